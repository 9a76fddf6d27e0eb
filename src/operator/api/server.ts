import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { authenticateApiKey } from '../../db/api-keys.repository';
import { recordAuditEvent } from '../../db/audit.repository';
import { AuditKind } from '../../domain/audit/kinds';
import { allows, type Identity } from '../../domain/identity/roles';
import { type Operation, OPERATIONS, runOperation } from '../operations';
import { ApiError, parsePart, route, type RouteSpec } from './http';
import { buildOpenApi } from './openapi';
import { OPERATOR_PAGE_HTML } from './operator-page';
import { RateLimiter } from './rate-limit';
import { type ApiDeps, createRoutes } from './routes';
import { ok } from './routes/shared';

export interface ApiServerOptions {
  /** Requests per key per endpoint per minute; writes get a quarter of it. */
  rateLimitPerMinute: number;
  /** Failed authentications per source address per minute; past it the source gets 429 before any key lookup. */
  authFailuresPerMinute?: number;
  /**
   * The limits' windows are shared through the database by every API on it; a scope keeps one
   * API's apart (tests serving two APIs with different limits on one database).
   */
  rateLimitScope?: string;
  /** Where requests and failures are logged (structured); left out, nothing is. */
  logger?: FastifyBaseLogger;
}

/** Reads, whatever their method: the full rate; writes a quarter of it. */
const READ_ACCESS = new Set(['read', 'audit:read']);

/**
 * Every operation of the registry as `POST /operations/<name>`, the way the
 * `warden` command reaches the API: the same handler as every other route
 * (key, rate limit, the operation's permission, its input schema).
 */
export function operationRoutes(deps: ApiDeps): RouteSpec[] {
  return (Object.entries(OPERATIONS) as [string, Operation][]).map(([name, op]) =>
    route<unknown>({
      id: `operation:${name}`,
      method: 'POST',
      url: `/operations/${name}`,
      access: op.permission,
      summary: op.summary,
      body: op.input,
      handle: async ({ identity, body }) => ok(await runOperation(op, deps, identity, body)),
    }),
  );
}

function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string' && header.startsWith('Bearer ')) return header.slice('Bearer '.length).trim();
  const key = request.headers['x-warden-key'];
  return typeof key === 'string' ? key.trim() : undefined;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The operator HTTP API, and through `/operations/<name>` every `warden`
 * command. Every request is authenticated (API key → identity and roles; failed
 * attempts rate limited and audited by source), rate limited per key and
 * endpoint, checked against the RBAC table, and validated before its handler
 * runs; the audit trail names the identity.
 */
export function createApiServer(deps: ApiDeps, options: ApiServerOptions): FastifyInstance {
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger.child({ component: 'api' }) } : { logger: false }),
    bodyLimit: 256 * 1024,
    // A path Fastify cannot decode (percent-encoding that is not UTF-8, e.g. a lone surrogate) is bad
    // input like any other: answered naming the part, not with Fastify's own wording.
    frameworkErrors: (error, _request, reply) => {
      void (reply as FastifyReply).code(400).send({
        error: 'invalid_request',
        message:
          error.code === 'FST_ERR_BAD_URL'
            ? 'params: the path is not valid percent-encoded UTF-8'
            : `params: ${error.message}`,
      });
    },
  });
  // A policy file may be posted as it is (POST /policy/plan, /policy/apply): YAML arrives as text.
  app.addContentTypeParser(
    ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'],
    { parseAs: 'string' },
    (_request, body, done) => done(null, body),
  );
  const limiter = new RateLimiter(deps.db, options.rateLimitScope);
  const failureLimit = options.authFailuresPerMinute ?? 10;
  const routes = [...createRoutes(deps), ...operationRoutes(deps)];
  const openApi = buildOpenApi(routes, deps.config.environment);

  /**
   * Who calls. A source past its failed authentications gets 429 before any
   * key lookup; every 401 is counted against its source and audited with the
   * address and route (never the key presented).
   */
  async function authenticate(spec: RouteSpec, request: FastifyRequest, reply: FastifyReply): Promise<Identity> {
    if (spec.access === 'public') return { name: 'anonymous', roles: [], keyId: '' };
    const source = request.ip;
    const blocked = await limiter.peek(`auth-failure|${source}`, failureLimit);
    if (!blocked.ok) {
      void reply.header('retry-after', String(blocked.retryAfterSeconds));
      throw new ApiError(
        429,
        'rate_limited',
        `too many failed authentications from ${source}; retry in ${blocked.retryAfterSeconds} s`,
      );
    }
    try {
      return await identify(spec, request);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 401) throw error;
      await limiter.take(`auth-failure|${source}`, failureLimit);
      await recordAuditEvent(deps.db, {
        actor: 'unauthenticated',
        kind: AuditKind.api.authenticationFailed,
        subject: `source:${source}`,
        details: { source, method: spec.method, url: spec.url, route: spec.id, reason: error.message },
      });
      throw error;
    }
  }

  async function identify(spec: RouteSpec, request: FastifyRequest): Promise<Identity> {
    if (spec.access === 'alertmanager') {
      const receiver = (request.query as { receiver?: unknown }).receiver;
      const secret = typeof receiver === 'string' ? deps.config.alertmanagerReceivers[receiver] : undefined;
      const presented = presentedKey(request);
      if (secret === undefined || presented === undefined || !sameSecret(secret, presented)) {
        throw new ApiError(
          401,
          'unauthenticated',
          'unknown receiver or wrong secret (Authorization: Bearer <secret>, ?receiver=<name>)',
        );
      }
      return {
        name: `alertmanager:${receiver as string}`,
        roles: ['automation'],
        keyId: `receiver:${receiver as string}`,
      };
    }
    const key = presentedKey(request);
    if (key === undefined)
      throw new ApiError(401, 'unauthenticated', 'an API key is required (Authorization: Bearer wk_… or X-Warden-Key)');
    const result = await authenticateApiKey(deps.db, key);
    if (!result.ok) throw new ApiError(401, 'unauthenticated', result.reason);
    return result.identity;
  }

  async function refuse(identity: Identity, spec: RouteSpec, reason: string): Promise<never> {
    // Refused attempts are part of the trail too: who tried what.
    await recordAuditEvent(deps.db, {
      actor: identity.name,
      kind: AuditKind.api.requestRefused,
      subject: `route:${spec.id}`,
      details: { method: spec.method, url: spec.url, roles: identity.roles, keyId: identity.keyId, reason },
    });
    throw new ApiError(403, 'forbidden', reason);
  }

  const handler = (spec: RouteSpec) => async (request: FastifyRequest, reply: FastifyReply) => {
    const identity = await authenticate(spec, request, reply);
    if (spec.access !== 'public') {
      const limit =
        spec.method === 'GET' || READ_ACCESS.has(spec.access)
          ? options.rateLimitPerMinute
          : Math.max(1, Math.floor(options.rateLimitPerMinute / 4));
      const taken = await limiter.take(`${identity.keyId}|${spec.id}`, limit);
      if (!taken.ok) {
        void reply.header('retry-after', String(taken.retryAfterSeconds));
        throw new ApiError(
          429,
          'rate_limited',
          `rate limit of ${limit} requests per minute for ${spec.method} ${spec.url} reached; retry in ${taken.retryAfterSeconds} s`,
        );
      }
      void reply.header('x-ratelimit-remaining', String(taken.remaining));
    }
    if (spec.access !== 'public' && spec.access !== 'alertmanager' && !allows(identity.roles, spec.access)) {
      await refuse(identity, spec, `${spec.access} is not granted to ${identity.roles.join(', ') || 'no role'}`);
    }
    const result = await spec.handle({
      identity,
      params: spec.params ? parsePart(spec.params, request.params, 'params') : undefined,
      query: spec.query ? parsePart(spec.query, request.query, 'query') : undefined,
      body: spec.body ? parsePart(spec.body, request.body, 'body') : undefined,
      accept: request.headers.accept,
    });
    void reply.code(result.status ?? 200);
    if (result.contentType) void reply.type(result.contentType);
    return result.body;
  };

  for (const spec of routes) app.route({ method: spec.method, url: spec.url, handler: handler(spec) });
  app.get('/openapi.json', async () => openApi);
  // The read-only operator page: static; its data calls carry the operator's key.
  app.get('/', async (_request, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
      .send(OPERATOR_PAGE_HTML),
  );

  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({
      error: 'not_found',
      message: `no route ${request.method} ${request.url.split('?')[0]} (see /openapi.json)`,
    });
  });
  app.setErrorHandler((error, _request, reply) => {
    if (error instanceof ApiError) {
      void reply.code(error.status).send({ error: error.code, message: error.message, ...error.extra });
      return;
    }
    const status = (error as { statusCode?: number }).statusCode;
    // Fastify's own 4xx: unreadable JSON, wrong content type, body too large.
    if (status !== undefined && status >= 400 && status < 500) {
      void reply.code(status).send({ error: 'invalid_request', message: `body: ${(error as Error).message}` });
      return;
    }
    void reply.code(500).send({ error: 'internal', message: 'internal error; see the Warden log' });
    process.stderr.write(`warden api: ${(error as Error).stack ?? String(error)}\n`);
  });
  return app;
}

/** Listens on `port` (0 picks a free one); answers with the bound port and a close function. */
export async function serveApi(
  app: FastifyInstance,
  port: number,
  host = '0.0.0.0',
): Promise<{ port: number; close(): Promise<void> }> {
  await app.listen({ port, host });
  const address = app.server.address();
  return { port: typeof address === 'object' && address ? address.port : port, close: () => app.close() };
}
