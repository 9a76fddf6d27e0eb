import os from 'node:os';
import { parseArgs } from 'node:util';
import { WorkflowNotFoundError } from '@temporalio/client';
import { z } from 'zod';
import { WardenClient, InvalidRequestError } from '../client';
import { ConfigError, loadConfig, type Config } from '../config';
import { ApplyModeSchema, type ControlPlaneView, KillSwitchSourceSchema, ActorSchema, ReasonSchema } from '../control-plane/types';
import { DatabaseLockedError, openDatabase } from '../db/connect';
import { verifyAuditChain } from '../db/audit.repository';
import { migrateDown, migrateToLatest } from '../db/migrate';
import { connectClient } from '../temporal/connection';
import { describeIssues } from '../validation';

/** Exit codes: 0 done, 1 could not reach or run it, 2 bad usage, 3 a check found a problem. */
const EXIT = { ok: 0, failure: 1, usage: 2, problem: 3 } as const;

class UsageError extends Error {}

const USAGE = `usage: warden <command> [options]

  status [--json]                                   control plane state
  go-live on|off [--reason R]                       turn production execution on or off
  kill-switch engage|release --reason R [--source S]
  apply-mode dry_run|testnet|live [--reason R]
  audit verify [--json]                             walk the audit hash chain
  migrate [--down [--all]]                          apply (or roll back) database migrations

  --actor A   who acts (default: $WARDEN_ACTOR or your user name)
environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, WARDEN_TASK_QUEUE, DATABASE_URL, WARDEN_DATA_DIR`;

const options = {
  json: { type: 'boolean' },
  reason: { type: 'string' },
  actor: { type: 'string' },
  source: { type: 'string' },
  down: { type: 'boolean' },
  all: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Flags = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];

function field<S extends z.ZodType>(name: string, schema: S, value: unknown): z.output<S> {
  if (value === undefined && !schema.safeParse(undefined).success) throw new UsageError(`${name}: required`);
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new UsageError(`${name}: ${describeIssues(parsed.error).replace(/^payload: /, '')}`);
  return parsed.data;
}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function describeState(view: ControlPlaneView): string[] {
  return [
    `go-live:      ${view.goLiveEnabled ? 'ON' : 'off'}`,
    `kill switch:  ${view.killSwitchEngaged ? `ENGAGED (source ${view.killSwitchSource ?? 'unknown'})` : 'released'}`,
    `apply mode:   ${view.applyMode}`,
    `last change:  v${view.version} by ${view.updatedBy} at ${view.updatedAt}${view.reason ? ` — ${view.reason}` : ''}`,
    ...(view.pendingChanges > 0 ? [`pending:      ${view.pendingChanges} change(s) being persisted`] : []),
    ...(view.rejectedSignals > 0 ? [`rejected:     ${view.rejectedSignals} invalid signal(s), see the audit log`] : []),
  ];
}

async function withWarden<T>(config: Config, fn: (warden: WardenClient) => Promise<T>): Promise<T> {
  const client = await connectClient(config.temporal);
  try {
    return await fn(new WardenClient(client, config.temporal.taskQueue));
  } finally {
    await client.connection.close();
  }
}

async function change(config: Config, flags: Flags, send: (warden: WardenClient) => Promise<void>): Promise<number> {
  return withWarden(config, async (warden) => {
    const before = await warden.controlPlaneState();
    await send(warden);
    const after = await warden.waitForControlPlane(before.version + 1);
    if (flags.json) out(JSON.stringify(after, null, 2));
    else describeState(after).forEach(out);
    return EXIT.ok;
  });
}

function actorOf(flags: Flags): string {
  return field('--actor', ActorSchema, flags.actor ?? process.env.WARDEN_ACTOR ?? os.userInfo().username);
}

async function run(argv: string[]): Promise<number> {
  const { values: flags, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  const [command, arg, ...rest] = positionals;
  if (flags.help || command === undefined || command === 'help') {
    out(USAGE);
    return command === undefined && !flags.help ? EXIT.usage : EXIT.ok;
  }
  const expectArgs = (max: number) => {
    if (positionals.length - 1 > max) throw new UsageError(`${command}: unexpected argument ${positionals[max + 1]}`);
  };
  const config = loadConfig();
  switch (command) {
    case 'status': {
      expectArgs(0);
      return withWarden(config, async (warden) => {
        const view = await warden.controlPlaneState();
        if (flags.json) out(JSON.stringify(view, null, 2));
        else describeState(view).forEach(out);
        return EXIT.ok;
      });
    }
    case 'go-live': {
      expectArgs(1);
      const enabled = field('go-live', z.enum(['on', 'off'], { message: 'expected on or off' }), arg) === 'on';
      const input = { enabled, actor: actorOf(flags), ...(flags.reason !== undefined ? { reason: field('--reason', ReasonSchema, flags.reason) } : {}) };
      return change(config, flags, (w) => w.setGoLive(input));
    }
    case 'kill-switch': {
      expectArgs(1);
      const action = field('kill-switch', z.enum(['engage', 'release'], { message: 'expected engage or release' }), arg);
      const reason = field('--reason', ReasonSchema, flags.reason);
      const actor = actorOf(flags);
      if (action === 'engage') {
        const source = field('--source', KillSwitchSourceSchema, flags.source ?? 'operator');
        return change(config, flags, (w) => w.engageKillSwitch({ source, actor, reason }));
      }
      return change(config, flags, (w) => w.releaseKillSwitch({ actor, reason }));
    }
    case 'apply-mode': {
      expectArgs(1);
      const mode = field('apply-mode', ApplyModeSchema, arg);
      const input = { mode, actor: actorOf(flags), ...(flags.reason !== undefined ? { reason: field('--reason', ReasonSchema, flags.reason) } : {}) };
      return change(config, flags, (w) => w.setApplyMode(input));
    }
    case 'audit': {
      expectArgs(1);
      field('audit', z.literal('verify', { message: 'expected verify' }), arg);
      const database = await openDatabase(config);
      try {
        const result = await verifyAuditChain(database.db);
        if (flags.json) out(JSON.stringify(result, null, 2));
        else if (result.ok) out(`audit chain intact: ${result.events} event(s), head ${result.lastHash.slice(0, 16)}…`);
        else out(`audit chain BROKEN at event ${result.brokenAt.id} (${result.brokenAt.kind} at ${result.brokenAt.at}): ${result.problem}; ${result.events} event(s) before it verified`);
        return result.ok ? EXIT.ok : EXIT.problem;
      } finally {
        await database.close();
      }
    }
    case 'migrate': {
      expectArgs(0);
      if (flags.all && !flags.down) throw new UsageError('--all: only with --down');
      const database = await openDatabase(config);
      try {
        const report = flags.down ? await migrateDown(database.db, { all: flags.all ?? false }) : await migrateToLatest(database.db);
        if (report.applied.length === 0) out(`${database.description}: nothing to migrate`);
        for (const r of report.applied) out(`${r.direction === 'Up' ? 'applied' : 'rolled back'} ${r.name}: ${r.status}`);
        return EXIT.ok;
      } finally {
        await database.close();
      }
    }
    default:
      void rest;
      throw new UsageError(`unknown command ${command}; run warden help`);
  }
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const usage = error instanceof UsageError || error instanceof InvalidRequestError || error instanceof ConfigError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    let message = error instanceof Error ? error.message : String(error);
    if (error instanceof WorkflowNotFoundError) message = 'the control plane is not running: start Warden with npm start';
    if (error instanceof DatabaseLockedError) message = error.message;
    process.stderr.write(`warden: ${message}\n`);
    process.exit(usage ? EXIT.usage : EXIT.failure);
  },
);
