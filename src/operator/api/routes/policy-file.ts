import { z } from 'zod';
import { readPolicyDocument } from '../../../db/policy-state.repository';
import { policyDocumentToYaml } from '../../../domain/change-requests/policy-file';
import { ReasonSchema } from '../../../domain/control-plane/types';
import { applyPolicy, planFor, readPolicySource } from '../../operations/policy-file';
import { route, type RouteSpec } from '../http';
import { type ApiDeps, ok } from './shared';

// Policy as code over HTTP: the same document as `warden policy export`, planned and applied the same way.

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];
export const wantsYaml = (accept: string | undefined) =>
  accept !== undefined && YAML_TYPES.some((t) => accept.toLowerCase().includes(t));

/** A policy document: its YAML text (any YAML or text content type), or the document as JSON. */
const PolicyBody = z.union(
  [z.string().max(256 * 1024, 'a policy file is at most 256 KiB'), z.record(z.string(), z.unknown())],
  // Neither branch: zod's own union message is a bare "Invalid input", which names nothing to fix.
  { error: 'expected the policy file as YAML text or the document as a JSON object' },
);
const sourceOf = (body: z.infer<typeof PolicyBody>) =>
  readPolicySource(typeof body === 'string' ? { file: 'body', text: body } : { file: 'body', document: body });

export function policyFileRoutes(deps: ApiDeps): RouteSpec[] {
  return [
    route({
      id: 'policyDocument',
      method: 'GET',
      url: '/policy',
      access: 'read',
      summary: 'The governed state as one policy document: YAML with `Accept: application/yaml`, else JSON.',
      query: z.strictObject({ format: z.enum(['yaml', 'json']).optional() }),
      handle: async ({ query, accept }) => {
        const document = await readPolicyDocument(deps.db);
        return query.format === 'yaml' || (query.format === undefined && wantsYaml(accept))
          ? { body: policyDocumentToYaml(document), contentType: 'application/yaml; charset=utf-8' }
          : ok(document);
      },
    }),
    route({
      id: 'policyPlan',
      method: 'POST',
      url: '/policy/plan',
      access: 'read',
      summary:
        'What a policy document changes, split into applies now (tightens) and needs approval (loosens), and the replay of the last 7 days of deals and commands under it.',
      body: PolicyBody,
      handle: async ({ identity, body }) => ok(await planFor(deps, identity, sourceOf(body))),
    }),
    route({
      id: 'policyApply',
      method: 'POST',
      url: '/policy/apply',
      access: 'change:request',
      summary:
        'Submit a policy document: the tightening part applies now; the loosening part opens one change request (202 while it waits for approvals).',
      body: PolicyBody,
      query: z.strictObject({ reason: ReasonSchema.optional() }),
      handle: async ({ identity, body, query }) => {
        const applied = await applyPolicy(deps, identity, sourceOf(body), query.reason ?? 'policy document (API)');
        return ok(applied, applied.changeRequest ? 202 : 200);
      },
    }),
  ];
}
