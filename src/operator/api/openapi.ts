import { z } from 'zod';
import { RBAC, type Permission } from '../../domain/identity/roles';
import type { RouteSpec } from './http';

const ERROR = {
  type: 'object',
  required: ['error', 'message'],
  properties: {
    error: { type: 'string' },
    message: { type: 'string', description: 'Names the offending field, e.g. `body.reason: must say why`.' },
  },
};

function schemaOf(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

function parameters(spec: RouteSpec) {
  const out: Record<string, unknown>[] = [];
  for (const [where, schema] of [
    ['path', spec.params],
    ['query', spec.query],
  ] as const) {
    if (!schema) continue;
    const json = schemaOf(schema, 'input') as { properties?: Record<string, unknown>; required?: string[] };
    for (const [name, property] of Object.entries(json.properties ?? {})) {
      out.push({
        name,
        in: where,
        required: where === 'path' || (json.required ?? []).includes(name),
        schema: property,
      });
    }
  }
  return out;
}

/** OpenAPI 3.1, generated from the same zod schemas that validate each request. */
export function buildOpenApi(routes: RouteSpec[], environment: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const spec of routes) {
    const path = spec.url.replace(/:([A-Za-z]+)/g, '{$1}');
    const who =
      spec.access === 'public'
        ? 'No key needed.'
        : spec.access === 'alertmanager'
          ? 'Alertmanager receiver secret as Bearer token.'
          : `Needs \`${spec.access}\`: ${RBAC[spec.access as Permission].join(', ')}.`;
    paths[path] ??= {};
    paths[path][spec.method.toLowerCase()] = {
      operationId: spec.id,
      summary: spec.summary,
      description: who,
      ...(spec.access === 'public' ? { security: [] } : {}),
      parameters: parameters(spec),
      ...(spec.body
        ? { requestBody: { required: true, content: { 'application/json': { schema: schemaOf(spec.body, 'input') } } } }
        : {}),
      responses: {
        200: {
          description: 'OK',
          ...(spec.response ? { content: { 'application/json': { schema: schemaOf(spec.response, 'output') } } } : {}),
        },
        ...Object.fromEntries(
          [
            [400, 'Invalid request: the message names the field.'],
            [401, 'Missing, unknown or revoked API key.'],
            [403, 'The key’s roles do not allow this.'],
            [404, 'Not found.'],
            [409, 'Refused by the governing workflow (reason given).'],
            [429, 'Rate limit reached; see Retry-After.'],
          ].map(([code, description]) => [code, { description, content: { 'application/json': { schema: ERROR } } }]),
        ),
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Warden operator API',
      version: '1',
      description: `Governance control plane (${environment}). Writes act through Temporal workflows and are audited with the caller's identity.`,
    },
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'wk_<id>.<secret>, from `warden keys create`' },
      },
    },
    security: [{ apiKey: [] }],
    paths,
  };
}
