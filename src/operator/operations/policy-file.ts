import { z } from 'zod';
import { readGateRecords } from '../../db/gate-inputs.repository';
import { readPolicyDocument } from '../../db/policy-state.repository';
import type { PartialPolicyDocument } from '../../domain/change-requests/changes';
import { classifyAll, type PolicyPlan, planPolicy, renderPlan } from '../../domain/change-requests/plan';
import {
  formatPolicyFileError,
  parsePolicyFile,
  type PolicyFileResult,
  policyDocumentToYaml,
  validatePolicyDocument,
} from '../../domain/change-requests/policy-file';
import { diffPolicyDocuments } from '../../domain/change-requests/changes';
import { assembleGateInputs, replayWindow } from '../../domain/change-requests/replay-inputs';
import { ReasonSchema } from '../../domain/control-plane/types';
import type { Identity } from '../../domain/identity/roles';
import { ApiError } from '../api/http';
import type { ApiDeps } from '../api/routes/shared';
import { operation } from './operation';
import { type ChangeSubmitted, submitChanges } from './submit-changes';

// Policy as code (issue 14 item 3): `warden policy export | plan -f | apply -f`, and the API's /policy.

const fromText = {
  file: z.string().min(1).max(255).default('policies.yaml'),
  text: z.string().max(256 * 1024, 'a policy file is at most 256 KiB'),
};
const fromDocument = { file: z.string().min(1).max(255).default('body'), document: z.unknown() };
/** A policy file as the CLI sends it: its name (for the errors) and its YAML; or, from the API, a document. */
export const PolicySourceSchema = z.union([z.strictObject(fromText), z.strictObject(fromDocument)]);
export type PolicySource = z.output<typeof PolicySourceSchema>;

/** The proposed document, or a 400 listing every problem as `file:line: path: message`. */
export function readPolicySource(source: PolicySource): PartialPolicyDocument {
  const read: PolicyFileResult =
    'text' in source ? parsePolicyFile(source.text, source.file) : validatePolicyDocument(source.document, source.file);
  if (read.ok) return read.document;
  const lines = read.errors.map(formatPolicyFileError);
  throw new ApiError(400, 'invalid_policy', lines.join('\n'), { errors: read.errors });
}

/** The plan of a proposed document against the running state, with the replay of the last 7 days. */
export async function planFor(deps: ApiDeps, identity: Identity, proposed: PartialPolicyDocument): Promise<PolicyPlan> {
  const [current, records] = await Promise.all([
    readPolicyDocument(deps.db),
    readGateRecords(deps.db, replayWindow(new Date())),
  ]);
  const ctx = { requesterName: identity.name, requesterRoles: identity.roles };
  return planPolicy(current, proposed, ctx, assembleGateInputs(records));
}

export interface PolicyApplied {
  /** The tightening part, applied at once; null when the file tightens nothing. */
  appliedNow: ChangeSubmitted | null;
  /** The loosening part, one change request waiting for approvals; null when the file loosens nothing. */
  changeRequest: ChangeSubmitted | null;
  message: string;
}

/**
 * Submits a proposed document: the changes that only tighten as one request (it applies at once), those
 * that loosen as one more (it waits for others' approval). An unchanged document submits nothing.
 */
export async function applyPolicy(
  deps: ApiDeps,
  identity: Identity,
  proposed: PartialPolicyDocument,
  reason: string,
): Promise<PolicyApplied> {
  const current = await readPolicyDocument(deps.db);
  const ctx = { requesterName: identity.name, requesterRoles: identity.roles };
  const changes = classifyAll(diffPolicyDocuments(current, proposed), ctx);
  const part = (direction: 'tighten' | 'loosen') => {
    const wanted = changes
      .filter((c) => c.direction === direction)
      .map(({ kind, target, before, after }) => ({ kind, target, before, after }));
    return wanted.length === 0 ? Promise.resolve(null) : submitChanges(deps, identity, wanted, reason);
  };
  const appliedNow = await part('tighten');
  const changeRequest = await part('loosen');
  const message =
    appliedNow === null && changeRequest === null
      ? 'nothing to apply: the file matches the running state'
      : [appliedNow?.message, changeRequest?.message].filter((m) => m !== undefined).join('\n');
  return { appliedNow, changeRequest, message };
}

const reason = { reason: ReasonSchema.optional() };
const ApplySchema = z.union([
  z.strictObject({ ...fromText, ...reason }),
  z.strictObject({ ...fromDocument, ...reason }),
]);

export const policyFileOperations = {
  'policy.export': operation({
    permission: 'read',
    summary: 'The governed state as one policy document, and as the YAML of `warden policy export`.',
    input: z.strictObject({}),
    run: async ({ db }) => {
      const document = await readPolicyDocument(db);
      return { document, yaml: policyDocumentToYaml(document) };
    },
  }),
  'policy.plan': operation({
    permission: 'read',
    summary:
      'What a policy file changes (applies now / needs approval) and how the last 7 days would have gone under it.',
    input: PolicySourceSchema,
    run: async (deps, identity, source) => {
      const plan = await planFor(deps, identity, readPolicySource(source));
      return { ...plan, text: renderPlan(plan) };
    },
  }),
  'policy.apply': operation({
    // As POST /change-requests: any write role may submit; what loosens still waits for others' approval.
    permission: 'change:request',
    summary: 'Submit a policy file: the tightening part applies now, the loosening part opens one change request.',
    input: ApplySchema,
    run: (deps, identity, input) =>
      applyPolicy(deps, identity, readPolicySource(input), input.reason ?? `policy file ${input.file}`),
  }),
};
