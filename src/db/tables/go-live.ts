import type { ColumnType, Insertable, Selectable, Updateable } from 'kysely';
import type { StepRecord } from '../../domain/go-live/playbook';
import type { SystemSnapshot } from '../../domain/go-live/sessions';
import type { Json } from './json';

// Guided go-live (seed 004): playbooks and operator sessions.

/** Seed 004 PACK H: one row per go-live playbook workflow (id = workflow id). */
export interface GoLivePlaybookTable {
  id: string;
  status: 'in_progress' | 'completed' | 'abandoned';
  steps: Json<StepRecord[]>;
  started_by: string;
  started_at: Date;
  completed_at: Date | null;
  environment: string;
}

/** Seed 004 PACK I: operator sessions with snapshots at start and end. */
export interface OperatorSessionTable {
  id: string;
  operator: string;
  status: 'active' | 'ended';
  started_at: Date;
  ended_at: Date | null;
  start_notes: string | null;
  end_notes: string | null;
  start_snapshot: Json<SystemSnapshot>;
  end_snapshot: ColumnType<SystemSnapshot | null, string | null | undefined, string | null>;
}

export type GoLivePlaybookRow = Selectable<GoLivePlaybookTable>;
export type NewGoLivePlaybook = Insertable<GoLivePlaybookTable>;
export type GoLivePlaybookUpdate = Updateable<GoLivePlaybookTable>;

export type OperatorSessionRow = Selectable<OperatorSessionTable>;
export type NewOperatorSession = Insertable<OperatorSessionTable>;
export type OperatorSessionUpdate = Updateable<OperatorSessionTable>;
