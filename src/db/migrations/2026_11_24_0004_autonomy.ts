import { type Kysely, sql } from 'kysely';

// Frozen in time: never edit a migration that has shipped; add a new one.

const json = (value: unknown) => sql`${JSON.stringify(value)}::jsonb`;

export async function up(db: Kysely<any>): Promise<void> {
  // Seed 002: autonomy phases, as data.
  await db.schema
    .createTable('autonomy_phase')
    .addColumn('phase', 'text', (c) => c.primaryKey())
    .addColumn('ordinal', 'integer', (c) => c.notNull().unique())
    .addColumn('added_commands', 'jsonb', (c) => c.notNull())
    .addColumn('all_commands', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('validation_days', 'integer')
    .addColumn('required_roles', 'jsonb', (c) => c.notNull())
    .execute();
  await db
    .insertInto('autonomy_phase')
    .values([
      {
        phase: 'L3',
        ordinal: 0,
        added_commands: json([]),
        all_commands: false,
        validation_days: null,
        required_roles: json([]),
      },
      {
        phase: 'L3+',
        ordinal: 1,
        added_commands: json(['SET_POWER', 'SET_FAN']),
        all_commands: false,
        validation_days: 14,
        required_roles: json(['tech_lead']),
      },
      {
        phase: 'L4',
        ordinal: 2,
        added_commands: json(['SET_DRUM', 'SET_AIRFLOW']),
        all_commands: false,
        validation_days: 21,
        required_roles: json(['tech_lead', 'ops_lead']),
      },
      {
        phase: 'L4+',
        ordinal: 3,
        added_commands: json(['PREHEAT', 'COOLING_CYCLE']),
        all_commands: false,
        validation_days: 30,
        required_roles: json(['tech_lead', 'ops_lead', 'product_lead']),
      },
      {
        phase: 'L5',
        ordinal: 4,
        added_commands: json(['EMERGENCY_SHUTDOWN', 'ABORT']),
        all_commands: true,
        validation_days: 60,
        required_roles: json(['tech_lead', 'ops_lead', 'product_lead', 'exec_sponsor']),
      },
    ])
    .execute();

  await db.schema
    .createTable('governance_state')
    .addColumn('id', 'integer', (c) =>
      c
        .primaryKey()
        .defaultTo(1)
        .check(sql`id = 1`),
    )
    .addColumn('current_phase', 'text', (c) => c.notNull().defaultTo('L3').references('autonomy_phase.phase'))
    .addColumn('phase_since', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('paused_command_types', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('active_proposal_id', 'text')
    .addColumn('last_report_at', 'timestamptz')
    .addColumn('last_report_id', 'bigint')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.insertInto('governance_state').values({ id: 1 }).execute();

  await db.schema
    .createTable('autonomy_approver')
    .addColumn('role', 'text', (c) =>
      c.notNull().check(sql`role in ('tech_lead', 'ops_lead', 'product_lead', 'exec_sponsor')`),
    )
    .addColumn('approver', 'text', (c) => c.notNull())
    .addColumn('added_by', 'text', (c) => c.notNull())
    .addColumn('added_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('autonomy_approver_pk', ['role', 'approver'])
    .execute();

  await db.schema
    .createTable('command_record')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('command_id', 'text', (c) => c.notNull().unique())
    .addColumn('command_type', 'text', (c) => c.notNull())
    .addColumn('phase', 'text', (c) => c.notNull())
    .addColumn('autonomous', 'boolean', (c) => c.notNull())
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('succeeded', 'failed', 'rejected', 'rolled_back')`),
    )
    .addColumn('approval', 'text', (c) =>
      c.check(sql`approval in ('approved', 'rejected', 'timed_out', 'refused_paused')`),
    )
    .addColumn('approver', 'text')
    .addColumn('role', 'text')
    .addColumn('detail', 'text')
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('command_record_at').on('command_record').columns(['at']).execute();

  await db.schema
    .createTable('incident')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('command_id', 'text')
    .addColumn('severity', 'text', (c) => c.notNull().check(sql`severity in ('low', 'medium', 'high', 'critical')`))
    .addColumn('autonomous', 'boolean', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('metrics_snapshot')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('window_start', 'timestamptz', (c) => c.notNull())
    .addColumn('window_end', 'timestamptz', (c) => c.notNull())
    .addColumn('metrics', 'jsonb', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('readiness_attestation')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('item', 'text', (c) => c.notNull())
    .addColumn('passed', 'boolean', (c) => c.notNull())
    .addColumn('note', 'text')
    .addColumn('attested_by', 'text', (c) => c.notNull())
    .addColumn('attested_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('readiness_attestation_item')
    .on('readiness_attestation')
    .columns(['item', 'id'])
    .execute();

  await db.schema
    .createTable('readiness_assessment')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('score', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('report', 'jsonb', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('circuit_breaker_rule')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('condition', 'text', (c) => c.notNull())
    .addColumn('window', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) =>
      c.notNull().check(sql`action in ('revert_to_l3', 'pause_command_type', 'alert_only')`),
    )
    .addColumn('alert_severity', 'text', (c) =>
      c.notNull().check(sql`alert_severity in ('low', 'medium', 'high', 'critical')`),
    )
    .addColumn('updated_by', 'text', (c) => c.notNull().defaultTo('seed'))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // Seed 002's four default rules.
  await db
    .insertInto('circuit_breaker_rule')
    .values([
      {
        name: 'High Error Rate',
        condition: 'errorRate > 0.05',
        window: '5m',
        action: 'revert_to_l3',
        alert_severity: 'high',
      },
      {
        name: 'Repeated Command Failures',
        condition: 'failures >= 3',
        window: '5m',
        action: 'pause_command_type',
        alert_severity: 'medium',
      },
      {
        name: 'Critical Incident',
        condition: 'criticalIncidents >= 1',
        window: '1m',
        action: 'revert_to_l3',
        alert_severity: 'critical',
      },
      {
        name: 'High Rollback Rate',
        condition: 'rollbackRate > 0.10',
        window: '15m',
        action: 'alert_only',
        alert_severity: 'medium',
      },
    ])
    .execute();

  await db.schema
    .createTable('circuit_breaker_event')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('rule_name', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('alert_severity', 'text', (c) => c.notNull())
    .addColumn('command_type', 'text')
    .addColumn('observed', 'double precision', (c) => c.notNull())
    .addColumn('detail', 'text', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('resolved_at', 'timestamptz')
    .addColumn('resolved_by', 'text')
    .addColumn('resolution', 'text')
    // Outbox: the proposal a revert ended, until it has been told.
    .addColumn('reverted_proposal_id', 'text')
    .addColumn('notified_at', 'timestamptz')
    .execute();

  await db.schema
    .createTable('governance_report')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('report', 'jsonb', (c) => c.notNull())
    .addColumn('proposal_id', 'text')
    .execute();

  await db.schema
    .createTable('expansion_proposal')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('from_phase', 'text', (c) => c.notNull())
    .addColumn('target_phase', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('pending', 'validating', 'validated', 'rejected', 'expired', 'reverted')`),
    )
    .addColumn('detail', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    'expansion_proposal',
    'governance_report',
    'circuit_breaker_event',
    'circuit_breaker_rule',
    'readiness_assessment',
    'readiness_attestation',
    'metrics_snapshot',
    'incident',
    'command_record',
    'autonomy_approver',
    'governance_state',
    'autonomy_phase',
  ]) {
    await db.schema.dropTable(table).execute();
  }
}
