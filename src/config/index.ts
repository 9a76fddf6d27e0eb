import { type ClientConnectConfig, loadClientConnectConfig } from '@temporalio/envconfig';
import path from 'node:path';
import { z } from 'zod';
import { type ApprovalRequirements, ChangeApprovalsConfigSchema } from '../domain/change-requests/approvals';
import type { CapitalBandThresholds } from '../domain/capital/bands';
import { CanaryInputSchema } from '../domain/watchdogs/canary';
import type { KillSwitchReleasePolicy } from '../domain/control-plane/release';
import type { GovernorSettings } from '../domain/permits/rules';
import { MAX_APPROVAL_TOKEN_TTL_MS } from '../domain/identity/audience';
import { durationMs } from '../domain/shared/durations';
import {
  type ApprovalPrivateKey,
  type ApprovalPublicKey,
  parseApprovalPrivateKey,
  parseApprovalPublicKeys,
  publicHalf,
} from '../security/approval-keys';

/** WARDEN_LOG_LEVEL's values: pino's levels (the logger itself, src/config/logging.ts, loads only where it logs). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type WardenLogLevel = (typeof LOG_LEVELS)[number];

const hostPort = z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, 'expected host:port, e.g. localhost:7233');

const duration = z.string().regex(/^\d+(ms|s|m|h|d)$/, 'expected a duration such as 60s, 5m or 1h');

/** `name=http(s)://url[,name=url…]`: canary probes and webhooks. */
const namedUrls = () =>
  z
    .string()
    .default('')
    .transform((value, ctx) => {
      const named: { name: string; url: string }[] = [];
      for (const entry of value
        .split(',')
        .map((e) => e.trim())
        .filter(Boolean)) {
        const match = /^([a-z][a-z0-9_-]{0,63})=(https?:\/\/\S+)$/.exec(entry);
        if (!match) {
          ctx.addIssue({ code: 'custom', message: `expected name=http(s)://url[,name=url…], got '${entry}'` });
          return z.NEVER;
        }
        named.push({ name: match[1]!, url: match[2]! });
      }
      return named;
    });

const optionalText = z
  .string()
  .trim()
  .transform((value) => (value === '' ? undefined : value))
  .optional();

/** A key setting: the JSON itself or a file path, parsed (and its key checked) once, here. */
const keySetting = <T>(parse: (value: string) => T) =>
  optionalText.transform((value, ctx) => {
    if (value === undefined) return undefined;
    try {
      return parse(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
      return z.NEVER;
    }
  });

interface ApprovalEnv {
  WARDEN_ENV: string;
  WARDEN_SIGNED_APPROVALS?: 'true' | 'false' | undefined;
  WARDEN_APPROVAL_SIGNING_KEY?: string | undefined;
  WARDEN_APPROVAL_PRIVATE_KEY?: ApprovalPrivateKey | undefined;
  WARDEN_APPROVAL_PUBLIC_KEYS?: ApprovalPublicKey[] | undefined;
}

const signedApprovals = (env: ApprovalEnv) => env.WARDEN_ENV === 'production' || env.WARDEN_SIGNED_APPROVALS === 'true';

/** What is wrong with the approval settings taken together, as [variable, problem]. */
function approvalKeyIssues(env: ApprovalEnv): [string, string][] {
  const issues: [string, string][] = [];
  if (env.WARDEN_APPROVAL_SIGNING_KEY !== undefined)
    issues.push([
      'WARDEN_APPROVAL_SIGNING_KEY',
      'HMAC approval tokens are gone: the API signs with WARDEN_APPROVAL_PRIVATE_KEY (an Ed25519 JWK) and workers verify with WARDEN_APPROVAL_PUBLIC_KEYS (a JWKS)',
    ]);
  if (env.WARDEN_ENV === 'production' && env.WARDEN_SIGNED_APPROVALS === 'false')
    issues.push(['WARDEN_SIGNED_APPROVALS', 'signed approvals are always on with WARDEN_ENV=production']);
  const { WARDEN_APPROVAL_PRIVATE_KEY: own, WARDEN_APPROVAL_PUBLIC_KEYS: known } = env;
  if (signedApprovals(env) && own === undefined && known === undefined)
    issues.push([
      'WARDEN_APPROVAL_PUBLIC_KEYS',
      'signed approvals are on (WARDEN_ENV=production or WARDEN_SIGNED_APPROVALS=true): give the public keys that verify them, as a JWKS JSON or a file path',
    ]);
  if (own !== undefined && known !== undefined && !known.some((k) => k.kid === own.kid && k.x === own.x))
    issues.push([
      'WARDEN_APPROVAL_PUBLIC_KEYS',
      `holds no key ${own.kid}, the public half of WARDEN_APPROVAL_PRIVATE_KEY: the tokens this API signs would be refused`,
    ]);
  return issues;
}

const envSchema = z
  .object({
    TEMPORAL_ADDRESS: hostPort.optional(),
    // Left out, the Temporal profile's namespace (TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE), else `default`.
    TEMPORAL_NAMESPACE: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,255}$/, 'expected a namespace name')
      .optional(),
    WARDEN_TASK_QUEUE: z
      .string()
      .regex(/^\S{1,255}$/, 'expected a task queue name without spaces')
      .default('warden'),
    TEMPORAL_TLS_CERT: optionalText,
    TEMPORAL_TLS_KEY: optionalText,
    TEMPORAL_API_KEY: optionalText,
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\/\S+$/, 'expected a postgres:// or postgresql:// URL')
      .optional(),
    WARDEN_DATA_DIR: z.string().min(1).default('.data'),
    // A workflow bundle built beforehand (bundleWorkflowCode's code, as a file): the worker starts without webpack.
    WARDEN_WORKFLOW_BUNDLE: optionalText,
    WARDEN_TEMPORAL_PORT: z.coerce.number().int().min(1).max(65535).default(7233),
    WARDEN_UI_PORT: z.coerce.number().int().min(1).max(65535).default(8233),
    WARDEN_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
    // Left out: info for the production worker, warn for `npm start` (its own lines say what happens).
    WARDEN_LOG_LEVEL: z.enum(LOG_LEVELS, { message: `expected one of ${LOG_LEVELS.join(', ')}` }).optional(),
    WARDEN_PERMIT_MAX_PER_HOUR: z.coerce.number().int().min(1).default(3),
    WARDEN_PERMIT_MAX_PER_5MIN: z.coerce.number().int().min(1).default(2),
    WARDEN_PERMIT_TTL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
    WARDEN_EXECUTOR_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
    WARDEN_AUTO_DISARM: z.enum(['true', 'false'], { message: 'expected true or false' }).default('true'),
    WARDEN_SIMULATED_EXECUTORS: z.enum(['true', 'false'], { message: 'expected true or false' }).default('false'),
    WARDEN_TRIPWIRE_EVERY: duration.default('5m'),
    WARDEN_CANARY_EVERY: duration.default('60s'),
    WARDEN_CANARY_THRESHOLD: z.coerce.number().int().min(1).max(100).default(3),
    WARDEN_CANARY_ACTION: CanaryInputSchema.shape.action,
    WARDEN_GOVERNANCE_CYCLE_CRON: z
      .string()
      .regex(/^(\S+\s+){4}\S+$/, 'expected a five-field cron expression, e.g. "0 23 * * 5"')
      .default('0 23 * * 5'),
    WARDEN_WEEKLY_GOVERNANCE_CRON: z
      .string()
      .regex(/^(\S+\s+){4}\S+$/, 'expected a five-field cron expression, e.g. "0 0 * * 1"')
      .default('0 0 * * 1'),
    WARDEN_CANARY_HTTP_PROBES: namedUrls(),
    WARDEN_ENV: z
      .string()
      .regex(/^[a-z][a-z0-9_-]{0,31}$/, 'expected an environment name such as dev, staging or prod')
      .default('dev'),
    WARDEN_API_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
    WARDEN_WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9465),
    WARDEN_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(120),
    WARDEN_CAPITAL_BANDS: z
      .string()
      .default('0.25,0.5,0.75')
      .transform((value, ctx) => {
        const cuts = value.split(',').map((v) => Number(v.trim()));
        const ascending = cuts.every((c, i) => i === 0 || c > cuts[i - 1]!);
        if (cuts.length !== 3 || cuts.some((c) => !Number.isFinite(c) || c <= 0 || c >= 1) || !ascending) {
          ctx.addIssue({
            code: 'custom',
            message: `expected three ascending fractions between 0 and 1 (B,C,D start), e.g. 0.25,0.5,0.75; got '${value}'`,
          });
          return z.NEVER;
        }
        return { B: cuts[0]!, C: cuts[1]!, D: cuts[2]! };
      }),
    WARDEN_KILL_SWITCH_COOLDOWN: duration.default('15m'),
    WARDEN_RELEASE_APPROVALS: z.coerce.number().int().min(1).max(10).default(1),
    // Separation of duties is not configurable: a leftover `true` is refused rather than silently ignored.
    WARDEN_RELEASE_SELF_APPROVAL: z
      .enum(['false'], {
        message: 'no longer configurable: whoever engaged the kill switch never approves its release',
      })
      .optional(),
    // Unset: on with WARDEN_ENV=production, off elsewhere.
    WARDEN_SIGNED_APPROVALS: z.enum(['true', 'false'], { message: 'expected true or false' }).optional(),
    // Gone with HMAC tokens: a leftover key is refused below rather than silently ignored.
    WARDEN_APPROVAL_SIGNING_KEY: optionalText,
    WARDEN_APPROVAL_PRIVATE_KEY: keySetting(parseApprovalPrivateKey),
    WARDEN_APPROVAL_PUBLIC_KEYS: keySetting(parseApprovalPublicKeys),
    WARDEN_APPROVAL_TOKEN_TTL: duration
      .default('5m')
      .refine((ttl) => durationMs(ttl) >= 1000 && durationMs(ttl) <= MAX_APPROVAL_TOKEN_TTL_MS, {
        message: `expected 1s to ${MAX_APPROVAL_TOKEN_TTL_MS / 60_000}m: an approval token is a bearer credential`,
      }),
    WARDEN_WEBHOOKS: namedUrls(),
    /** Signs every webhook body (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature). */
    WARDEN_WEBHOOK_SECRET: z
      .string()
      .regex(
        /^whsec_[A-Za-z0-9+/]{32,}={0,2}$/,
        'expected a Standard Webhooks secret: whsec_ then at least 24 random bytes in base64 (whsec_$(openssl rand -base64 32))',
      )
      .optional(),
    WARDEN_CHANGE_APPROVALS: ChangeApprovalsConfigSchema,
    WARDEN_ALERTMANAGER_RECEIVERS: z
      .string()
      .default('')
      .transform((value, ctx) => {
        const receivers: Record<string, string> = {};
        for (const entry of value
          .split(',')
          .map((e) => e.trim())
          .filter(Boolean)) {
          const match = /^([a-z][a-z0-9_-]{0,63})=(\S{16,})$/.exec(entry);
          if (!match) {
            ctx.addIssue({
              code: 'custom',
              message: `expected name=secret (secret of 16+ characters)[,name=secret…], got '${entry.split('=')[0]}=…'`,
            });
            return z.NEVER;
          }
          receivers[match[1]!] = match[2]!;
        }
        return receivers;
      }),
  })
  .superRefine((env, ctx) => {
    approvalKeyIssues(env).forEach(([variable, message]) =>
      ctx.addIssue({ code: 'custom', path: [variable], message }),
    );
    // In production a receiver must be able to tell Warden's notifications from anyone's POST.
    if (env.WARDEN_ENV === 'production' && env.WARDEN_WEBHOOKS.length > 0 && env.WARDEN_WEBHOOK_SECRET === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['WARDEN_WEBHOOK_SECRET'],
        message: 'required in production when WARDEN_WEBHOOKS is set: webhook bodies are signed',
      });
    if ((env.TEMPORAL_TLS_CERT === undefined) !== (env.TEMPORAL_TLS_KEY === undefined)) {
      const missing = env.TEMPORAL_TLS_CERT === undefined ? 'TEMPORAL_TLS_CERT' : 'TEMPORAL_TLS_KEY';
      ctx.addIssue({
        code: 'custom',
        path: [missing],
        message: 'TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be given together',
      });
    }
  });
export interface Config {
  temporal: {
    /** Undefined: Warden runs its own dev server (embedded default). */
    address: string | undefined;
    namespace: string;
    taskQueue: string;
    /** Warden's older TEMPORAL_TLS_CERT/TEMPORAL_TLS_KEY pair; the standard TEMPORAL_TLS_* are in `standard`. */
    tls: { certPath: string; keyPath: string } | undefined;
    apiKey: string | undefined;
    /**
     * The standard Temporal client configuration (@temporalio/envconfig): TEMPORAL_PROFILE and its file,
     * TEMPORAL_TLS_CLIENT_CERT_PATH/…_KEY_PATH, the server CA (TEMPORAL_TLS_SERVER_CA_CERT_PATH) and SNI
     * (TEMPORAL_TLS_SERVER_NAME), gRPC metadata.
     */
    standard: Pick<ClientConnectConfig['connectionOptions'], 'tls' | 'metadata'>;
  };
  /** Undefined: embedded PGlite under the data folder. */
  databaseUrl: string | undefined;
  dataDir: string;
  /** A prebuilt workflow bundle; undefined: the worker bundles workflows/ at start. */
  workflowBundlePath: string | undefined;
  /** gRPC port of the embedded dev server (used only when TEMPORAL_ADDRESS is unset). */
  temporalPort: number;
  uiPort: number;
  /** Prometheus /metrics on the worker; 0 turns it off. */
  metricsPort: number;
  /** WARDEN_LOG_LEVEL, when set: the structured log's level. */
  logLevel: WardenLogLevel | undefined;
  governor: GovernorSettings;
  /**
   * Serve the simulated deal and command executors on Warden's own queue (fake fills).
   * Off by default: `npm start` and the tests wire them themselves.
   */
  simulatedExecutors: boolean;
  watchdogs: {
    tripwireEvery: string;
    canaryEvery: string;
    canaryThreshold: number;
    /** KILL_SWITCH (halt) or REDUCE_ONLY (the kill switch in reduce mode) at the threshold. */
    canaryAction: 'KILL_SWITCH' | 'REDUCE_ONLY';
    httpProbes: { name: string; url: string }[];
    governanceCycleCron: string;
    /** Starts each ISO week's weeklyGovernance (Monday 00:00 UTC by default). */
    weeklyGovernanceCron: string;
  };
  /** Deployment environment name; approval settings below are this environment's. */
  environment: string;
  /** Operator HTTP API; 0 turns it off. */
  apiPort: number;
  /** The Temporal worker runtime's own Prometheus metrics; 0 turns them off. */
  workerMetricsPort: number;
  rateLimitPerMinute: number;
  /** Capital usage (fraction of the GLOBAL daily exposure cap) at which bands B, C and D begin. */
  capitalBands: CapitalBandThresholds;
  killSwitch: KillSwitchReleasePolicy;
  /**
   * Signed approvals: on with WARDEN_ENV=production (or WARDEN_SIGNED_APPROVALS=true). The API signs with
   * `privateKey`; workers verify with `publicKeys` (the private key's public half when none are given).
   */
  approvals: {
    signed: boolean;
    privateKey: ApprovalPrivateKey | undefined;
    publicKeys: ApprovalPublicKey[];
    tokenTtl: string;
  };
  webhooks: { name: string; url: string }[];
  webhookSecret: string | undefined;
  /** Alertmanager receiver name → shared secret. */
  alertmanagerReceivers: Record<string, string>;
  /** Who must approve a change request that loosens, per change kind (WARDEN_CHANGE_APPROVALS over the defaults). */
  changeApprovals: ApprovalRequirements;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * The Temporal connection as every Temporal tool reads it (@temporalio/envconfig): the profile from
 * TEMPORAL_PROFILE in TEMPORAL_CONFIG_FILE (or the default file), overridden by TEMPORAL_* variables.
 * A profile or file it cannot read is an error naming the variable.
 */
function standardTemporalProfile(env: Record<string, string | undefined>): ClientConnectConfig {
  const vars = Object.fromEntries(
    Object.entries(env).filter((kv): kv is [string, string] => kv[1] !== undefined && kv[0].startsWith('TEMPORAL_')),
  );
  try {
    return loadClientConnectConfig({ overrideEnvVars: vars });
  } catch (error) {
    const variable = vars.TEMPORAL_CONFIG_FILE !== undefined ? 'TEMPORAL_CONFIG_FILE' : 'TEMPORAL_PROFILE';
    throw new ConfigError(`invalid ${variable}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * `WARDEN_*` variables read outside this schema: the CLI's (its API, key and profile), the set-up's tools
 * directory, the tests' history recording, and docker-compose's interpolation (.env.example).
 */
const WARDEN_VARIABLES_ELSEWHERE = [
  'WARDEN_API_URL',
  'WARDEN_API_KEY',
  'WARDEN_PROFILE',
  'WARDEN_TOOLS_DIR',
  'WARDEN_RECORD_HISTORIES',
  'WARDEN_DB_PASSWORD',
  'WARDEN_ALERTMANAGER_SECRET',
  'WARDEN_NAMESPACE',
];
const KNOWN_WARDEN_VARIABLES = new Set([
  ...Object.keys(envSchema.shape).filter((k) => k.startsWith('WARDEN_')),
  ...WARDEN_VARIABLES_ELSEWHERE,
]);

/** Edit distance, for "did you mean": a misspelt setting is the usual unknown one. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++)
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

/** A `WARDEN_*` variable Warden does not read is an error naming it: a misspelt setting silently ignored is a default. */
function unknownWardenVariable(env: Record<string, string | undefined>): string | undefined {
  const unknown = Object.keys(env)
    .filter((k) => k.startsWith('WARDEN_') && env[k] !== undefined && !KNOWN_WARDEN_VARIABLES.has(k))
    .sort()[0];
  if (unknown === undefined) return undefined;
  const [closest] = [...KNOWN_WARDEN_VARIABLES].sort((a, b) => distance(unknown, a) - distance(unknown, b));
  const hint = closest !== undefined && distance(unknown, closest) <= 3 ? ` (did you mean ${closest}?)` : '';
  return `unknown ${unknown}: Warden has no such setting${hint}; the settings are in docs/configuration.md`;
}

/** Parses an environment record once; a bad value, or an unknown WARDEN_* variable, throws one line naming it. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const unknown = unknownWardenVariable(env);
  if (unknown !== undefined) throw new ConfigError(unknown);
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = String(issue.path[0] ?? 'environment');
    throw new ConfigError(`invalid ${variable}: ${issue.message}`);
  }
  const e = parsed.data;
  const profile = standardTemporalProfile(env);
  return {
    temporal: {
      address: e.TEMPORAL_ADDRESS ?? profile.connectionOptions.address,
      namespace: e.TEMPORAL_NAMESPACE ?? profile.namespace ?? 'default',
      taskQueue: e.WARDEN_TASK_QUEUE,
      tls:
        e.TEMPORAL_TLS_CERT && e.TEMPORAL_TLS_KEY
          ? { certPath: e.TEMPORAL_TLS_CERT, keyPath: e.TEMPORAL_TLS_KEY }
          : undefined,
      apiKey: e.TEMPORAL_API_KEY ?? profile.connectionOptions.apiKey,
      standard: {
        ...(profile.connectionOptions.tls !== undefined ? { tls: profile.connectionOptions.tls } : {}),
        ...(profile.connectionOptions.metadata ? { metadata: profile.connectionOptions.metadata } : {}),
      },
    },
    databaseUrl: e.DATABASE_URL,
    dataDir: path.resolve(e.WARDEN_DATA_DIR),
    workflowBundlePath: e.WARDEN_WORKFLOW_BUNDLE === undefined ? undefined : path.resolve(e.WARDEN_WORKFLOW_BUNDLE),
    temporalPort: e.WARDEN_TEMPORAL_PORT,
    uiPort: e.WARDEN_UI_PORT,
    metricsPort: e.WARDEN_METRICS_PORT,
    logLevel: e.WARDEN_LOG_LEVEL,
    governor: {
      maxPerHour: e.WARDEN_PERMIT_MAX_PER_HOUR,
      maxPer5Min: e.WARDEN_PERMIT_MAX_PER_5MIN,
      permitTtlSeconds: e.WARDEN_PERMIT_TTL_SECONDS,
      executorTimeoutSeconds: e.WARDEN_EXECUTOR_TIMEOUT_SECONDS,
      autoDisarm: e.WARDEN_AUTO_DISARM === 'true',
    },
    simulatedExecutors: e.WARDEN_SIMULATED_EXECUTORS === 'true',
    watchdogs: {
      tripwireEvery: e.WARDEN_TRIPWIRE_EVERY,
      canaryEvery: e.WARDEN_CANARY_EVERY,
      canaryThreshold: e.WARDEN_CANARY_THRESHOLD,
      canaryAction: e.WARDEN_CANARY_ACTION,
      httpProbes: e.WARDEN_CANARY_HTTP_PROBES,
      governanceCycleCron: e.WARDEN_GOVERNANCE_CYCLE_CRON,
      weeklyGovernanceCron: e.WARDEN_WEEKLY_GOVERNANCE_CRON,
    },
    environment: e.WARDEN_ENV,
    apiPort: e.WARDEN_API_PORT,
    workerMetricsPort: e.WARDEN_WORKER_METRICS_PORT,
    rateLimitPerMinute: e.WARDEN_RATE_LIMIT_PER_MINUTE,
    capitalBands: e.WARDEN_CAPITAL_BANDS,
    killSwitch: {
      cooldown: e.WARDEN_KILL_SWITCH_COOLDOWN,
      approvals: e.WARDEN_RELEASE_APPROVALS,
    },
    approvals: {
      signed: signedApprovals(e),
      privateKey: e.WARDEN_APPROVAL_PRIVATE_KEY,
      publicKeys:
        e.WARDEN_APPROVAL_PUBLIC_KEYS ??
        (e.WARDEN_APPROVAL_PRIVATE_KEY ? [publicHalf(e.WARDEN_APPROVAL_PRIVATE_KEY)] : []),
      tokenTtl: e.WARDEN_APPROVAL_TOKEN_TTL,
    },
    webhooks: e.WARDEN_WEBHOOKS,
    webhookSecret: e.WARDEN_WEBHOOK_SECRET,
    alertmanagerReceivers: e.WARDEN_ALERTMANAGER_RECEIVERS,
    changeApprovals: e.WARDEN_CHANGE_APPROVALS,
  };
}

export const DEFAULT_TEMPORAL_ADDRESS = 'localhost:7233';

/** The watchdog schedules as this configuration wants them. */
export function watchdogScheduleSettings(config: Config) {
  return {
    taskQueue: config.temporal.taskQueue,
    tripwireEvery: config.watchdogs.tripwireEvery,
    canaryEvery: config.watchdogs.canaryEvery,
    canary: {
      threshold: config.watchdogs.canaryThreshold,
      action: config.watchdogs.canaryAction,
      httpProbes: config.watchdogs.httpProbes,
    },
    governanceCycleCron: config.watchdogs.governanceCycleCron,
    weeklyGovernanceCron: config.watchdogs.weeklyGovernanceCron,
  };
}

/** What the worker's activities enforce in this environment, taken from the configuration once. */
export interface GovernanceSettings {
  environment: string;
  release: KillSwitchReleasePolicy;
  approvals: { signed: boolean; publicKeys: readonly ApprovalPublicKey[] };
  capitalBands: CapitalBandThresholds;
  canaryThreshold: number;
  webhooks: { name: string; url: string }[];
  /** Standard Webhooks signing secret (whsec_…); unset, bodies go unsigned (refused in production). */
  webhookSecret?: string | undefined;
  changeApprovals: ApprovalRequirements;
}

export function governanceSettingsOf(config: Config): GovernanceSettings {
  return {
    environment: config.environment,
    release: config.killSwitch,
    approvals: { signed: config.approvals.signed, publicKeys: config.approvals.publicKeys },
    capitalBands: config.capitalBands,
    canaryThreshold: config.watchdogs.canaryThreshold,
    webhooks: config.webhooks,
    webhookSecret: config.webhookSecret,
    changeApprovals: config.changeApprovals,
  };
}

/** The defaults: 15-minute release cooldown, no self-approval, unsigned approvals, no webhooks. */
export const SAFE_GOVERNANCE_SETTINGS: GovernanceSettings = governanceSettingsOf(loadConfig({}));
