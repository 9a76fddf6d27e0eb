import type { z } from 'zod';
import type { Identity, Permission } from '../../domain/identity/roles';
import { describeIssues } from '../../domain/shared/validation';

/** An answer other than success: status, a stable code, and a message naming the field when there is one. */
export class ApiError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 429 | 503,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const badRequest = (message: string) => new ApiError(400, 'invalid_request', message);
export const notFound = (message: string) => new ApiError(404, 'not_found', message);
export const conflict = (message: string, extra: Record<string, unknown> = {}) =>
  new ApiError(409, 'refused', message, extra);
export const forbidden = (message: string) => new ApiError(403, 'forbidden', message);

/** Parses one part of a request; a failure names the part and the field (`body.reason: must say why`). */
export function parsePart<S extends z.ZodType>(
  schema: S,
  value: unknown,
  part: 'body' | 'query' | 'params',
): z.output<S> {
  const parsed = schema.safeParse(value ?? {});
  if (!parsed.success) throw badRequest(`${part}.${describeIssues(parsed.error)}`);
  return parsed.data;
}

/** Who may call a route: a permission of the RBAC table, anyone, or an Alertmanager receiver (its own secret). */
export type Access = Permission | 'public' | 'alertmanager';

export interface RouteContext<B, Q, P> {
  identity: Identity;
  body: B;
  query: Q;
  params: P;
  /** The request's Accept header, for routes that answer in more than one format. */
  accept?: string | undefined;
}

export interface Reply {
  status?: number;
  body: unknown;
  contentType?: string;
}

export interface RouteSpec<B = unknown, Q = unknown, P = unknown> {
  id: string;
  method: 'GET' | 'POST';
  url: string;
  access: Access;
  summary: string;
  body?: z.ZodType<B>;
  query?: z.ZodType<Q>;
  params?: z.ZodType<P>;
  /** The success answer's shape, for the OpenAPI document; omitted for free-form reads. */
  response?: z.ZodType;
  handle(ctx: RouteContext<B, Q, P>): Promise<Reply>;
}

/** Keeps each route's types checked while the table holds routes of many types. */
export function route<B = undefined, Q = undefined, P = undefined>(spec: RouteSpec<B, Q, P>): RouteSpec {
  return spec as unknown as RouteSpec;
}
