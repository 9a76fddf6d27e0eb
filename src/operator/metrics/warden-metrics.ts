import { type Kysely, sql } from 'kysely';
import type { Registry } from 'prom-client';
import { AuditKind } from '../../domain/audit/kinds';
import { CAPITAL_BANDS, type CapitalBandThresholds } from '../../domain/capital/bands';
import { APPLY_MODES, TRADING_STATES } from '../../domain/control-plane/types';
import { tradingStateOf } from '../../domain/control-plane/rules';
import { POSITION_SCOPES } from '../../domain/deals/positions';
import { readCapitalUsage } from '../../db/capital.repository';
import { readControlPlaneState } from '../../db/control-plane.repository';
import type { Database } from '../../db/database';
import { DEAL_GATES as ALL_DEAL_GATES, DEAL_OUTCOMES as ALL_DEAL_OUTCOMES } from '../../domain/deals/types';
import { dbGauges } from './db-gauge';
import { HoldSchema, isoWeekOf, suppressedBy } from '../../domain/autonomy/week';

const PREFIX = 'warden_';

// How deals ended: a wait for reconciliation is not an end (the reconciled result is), nor is a refused claim a gate.
const DEAL_OUTCOMES = ALL_DEAL_OUTCOMES.filter((o) => o !== 'needs_reconciliation');
/** Each outcome's audit kind, and back. */
const DEAL_OUTCOME_KINDS = DEAL_OUTCOMES.map((o) => AuditKind.deal[o]);
const DEAL_OUTCOME_OF_KIND = new Map<string, string>(DEAL_OUTCOMES.map((o) => [AuditKind.deal[o], o]));
const DEAL_GATES = ALL_DEAL_GATES.filter((g) => g !== 'claim');
/** The `gate` label of an outcome no gate refused. */
const NO_GATE = 'none';

const dealGate = sql<string | null>`details->'result'->>'gate'`;
const dealReason = sql<string | null>`details->'result'->>'reason'`;

/**
 * Warden's own series, read from Postgres at each scrape, so every process
 * that serves /metrics reports the same truth. Totals count rows of
 * append-only records (the audit log): they never go down, so `increase()`
 * and `rate()` work on them across restarts.
 */
export function registerWardenMetrics(
  registry: Registry,
  db: Kysely<Database>,
  options: { capitalBands: CapitalBandThresholds },
): void {
  const gauge = dbGauges(registry, PREFIX);

  gauge('kill_switch_engaged', 'Kill switch engaged (1) or released (0)', [], async (g) => {
    g.set((await readControlPlaneState(db)).killSwitchEngaged ? 1 : 0);
  });
  gauge(
    'trading_state',
    'Trading state (1 for the current one): active, reducing (exits only) or halted',
    ['state'],
    async (g) => {
      const current = tradingStateOf(await readControlPlaneState(db));
      for (const state of TRADING_STATES) g.set({ state }, state === current ? 1 : 0);
    },
  );
  gauge(
    'positions_open',
    'Positions Warden keeps that are not flat, per scope (strategy or engine)',
    ['scope'],
    async (g) => {
      const rows = await db
        .selectFrom('position')
        .select(['scope', (eb) => eb.fn.countAll<string>().as('n')])
        .where('quantity', '<>', 0)
        .groupBy('scope')
        .execute();
      for (const scope of POSITION_SCOPES) g.set({ scope }, Number(rows.find((r) => r.scope === scope)?.n ?? 0));
    },
  );
  gauge(
    'deals_unresolved',
    'Deals whose outcome is unknown (needs_reconciliation), money still reserved',
    [],
    async (g) => {
      const row = await db
        .selectFrom('deal_claim')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('stage', '=', 'needs_reconciliation')
        .executeTakeFirstOrThrow();
      g.set(Number(row.n));
    },
  );
  // The current ISO week's governance (issue 19), read from its audit trail: what is held, and whether
  // Monday's review was acknowledged. The workflow's `status` query has the rest.
  gauge('week_held', "This ISO week's holds (1 for a scope held): expansion, promotions", ['scope'], async (g) => {
    const events = await weekEvents(db, [AuditKind.week.held, AuditKind.week.released]);
    const since = events.map((e) => e.kind).lastIndexOf(AuditKind.week.released);
    const holds = events.slice(since + 1).map((e) => ({ scope: HoldSchema.shape.scope.catch('all').parse(e.scope) }));
    const held = new Set(suppressedBy(holds));
    for (const scope of ['expansion', 'promotions'] as const) g.set({ scope }, held.has(scope) ? 1 : 0);
  });
  gauge('week_review_acknowledged', "This ISO week's Monday review acknowledged (1) or not yet (0)", [], async (g) => {
    g.set((await weekEvents(db, [AuditKind.week.reviewAcknowledged])).length > 0 ? 1 : 0);
  });
  gauge('go_live_enabled', 'Go-live on (1) or off (0)', [], async (g) => {
    g.set((await readControlPlaneState(db)).goLiveEnabled ? 1 : 0);
  });
  gauge('apply_mode', 'Apply mode (1 for the current one)', ['mode'], async (g) => {
    const { applyMode } = await readControlPlaneState(db);
    for (const mode of APPLY_MODES) g.set({ mode }, mode === applyMode ? 1 : 0);
  });

  gauge(
    'capital_band',
    'Capital band (1 for the current one): committed exposure today against the GLOBAL daily cap',
    ['band'],
    async (g) => {
      const { band } = await readCapitalUsage(db, options.capitalBands);
      for (const b of CAPITAL_BANDS) g.set({ band: b }, b === band ? 1 : 0);
    },
  );
  gauge(
    'capital_usage_ratio',
    'Committed exposure today over the GLOBAL daily exposure cap (absent without a cap)',
    [],
    async (g) => {
      const { usage } = await readCapitalUsage(db, options.capitalBands);
      if (usage !== null) g.set(usage);
    },
  );

  // Every governed deal ends in exactly one audit event `deal.<status>`, which
  // names the refusing gate and its reason: one source for all five gates.
  const outcomes = dealOutcomeTally(db);
  gauge(
    'governance_decisions_total',
    `Governed deals by outcome and the gate that refused them ("${NO_GATE}" when none did)`,
    ['outcome', 'gate'],
    async (g) => {
      for (const outcome of DEAL_OUTCOMES) {
        if (outcome === 'denied') for (const gate of DEAL_GATES) g.set({ outcome, gate }, 0);
        else g.set({ outcome, gate: NO_GATE }, 0);
      }
      for (const c of await outcomes()) g.inc({ outcome: c.outcome, gate: c.gate ?? NO_GATE }, c.count);
    },
  );
  gauge('governance_denials_total', 'Denied deals by gate and reason', ['gate', 'reason'], async (g) => {
    for (const c of await outcomes())
      if (c.outcome === 'denied') g.inc({ gate: c.gate ?? 'unknown', reason: c.reason ?? 'unknown' }, c.count);
  });

  gauge(
    'tripwire_triggered',
    'Regression tripwire fired (1) and not yet reset (0), per policy',
    ['domain', 'metric', 'engine', 'action'],
    async (g) => {
      const rows = await db
        .selectFrom('regression_policy as p')
        .leftJoin('regression_state as s', (join) =>
          join.onRef('s.domain', '=', 'p.domain').onRef('s.metric', '=', 'p.metric'),
        )
        .select(['p.domain', 'p.metric', 'p.engine', 'p.action', 's.triggered'])
        .execute();
      for (const r of rows)
        g.set({ domain: r.domain, metric: r.metric, engine: r.engine, action: r.action }, r.triggered ? 1 : 0);
    },
  );
  gauge(
    'tripwire_drop_fraction',
    'Latest KPI drop against the baseline, per regression policy',
    ['domain', 'metric'],
    async (g) => {
      const rows = await db
        .selectFrom('regression_state')
        .select(['domain', 'metric', 'drop_fraction'])
        .where('drop_fraction', 'is not', null)
        .execute();
      for (const r of rows) g.set({ domain: r.domain, metric: r.metric }, r.drop_fraction!);
    },
  );
  gauge('engine_restrictions_active', 'Throttles and pauses in force, per engine', ['engine', 'kind'], async (g) => {
    const rows = await db
      .selectFrom('engine_restriction')
      .select(['engine', 'kind', db.fn.countAll<string>().as('n')])
      .where('cleared_at', 'is', null)
      .groupBy(['engine', 'kind'])
      .execute();
    for (const r of rows) g.set({ engine: r.engine, kind: r.kind }, Number(r.n));
  });

  gauge(
    'canary_check_failing',
    'Infrastructure canary check failing at its last run (1) or healthy (0)',
    ['check'],
    async (g) => {
      for (const c of await db.selectFrom('canary_check_state').select(['name', 'last_ok']).execute())
        g.set({ check: c.name }, c.last_ok ? 0 : 1);
    },
  );
  gauge(
    'canary_consecutive_failures',
    'Consecutive failures of an infrastructure canary check',
    ['check'],
    async (g) => {
      for (const c of await db.selectFrom('canary_check_state').select(['name', 'consecutive_failures']).execute())
        g.set({ check: c.name }, c.consecutive_failures);
    },
  );
}

interface OutcomeCount {
  outcome: string;
  gate: string | null;
  reason: string | null;
  count: number;
}

/**
 * Deal outcomes counted from the audit log, reading at each scrape only the
 * events since the last one: the log only appends, and its chain lock makes
 * ids commit in order, so no event is skipped. Calls run one at a time.
 */
function dealOutcomeTally(db: Kysely<Database>): () => Promise<OutcomeCount[]> {
  const counts = new Map<string, OutcomeCount>();
  let lastId = 0n;
  const refresh = async () => {
    const rows = await db
      .selectFrom('audit_event')
      .select([
        'kind',
        dealGate.as('gate'),
        dealReason.as('reason'),
        db.fn.countAll<string>().as('n'),
        db.fn.max('id').as('last'),
      ])
      .where('kind', 'in', DEAL_OUTCOME_KINDS)
      .where('id', '>', String(lastId))
      .groupBy(['kind', dealGate, dealReason])
      .execute();
    for (const r of rows) {
      const key = JSON.stringify([r.kind, r.gate, r.reason]);
      const entry = counts.get(key) ?? {
        outcome: DEAL_OUTCOME_OF_KIND.get(r.kind) ?? r.kind,
        gate: r.gate,
        reason: r.reason,
        count: 0,
      };
      entry.count += Number(r.n);
      counts.set(key, entry);
    }
    lastId = rows.reduce((max, r) => (BigInt(r.last) > max ? BigInt(r.last) : max), lastId);
    return [...counts.values()];
  };
  let queue: Promise<unknown> = Promise.resolve();
  return () => {
    const next = queue.then(refresh);
    queue = next.catch(() => undefined);
    return next;
  };
}

/** The current ISO week's audit events of these kinds, oldest first. */
async function weekEvents(db: Kysely<Database>, kinds: string[]) {
  return db
    .selectFrom('audit_event')
    .select(['kind', sql<string | null>`details->>'scope'`.as('scope')])
    .where('subject', '=', `week:${isoWeekOf(new Date())}`)
    .where('kind', 'in', kinds)
    .orderBy('id')
    .execute();
}
