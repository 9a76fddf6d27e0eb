import type { GoLiveConditions, PlaybookStepId, StepRecord, StepRefusal, StepRefusalReason } from './playbook';
import type { OperatorSessionView } from './sessions';

// The go-live playbook's and operator sessions' activity contract, implemented by activities/go-live.ts.

/** A step not recorded says why; `reason` when it is not the approver's credentials (`approver_required`). */
export type StepRecording = { recorded: true } | { recorded: false; problem: string; reason?: StepRefusalReason };

export interface GoLiveActivities {
  /** Band and R/Y/G health now, and the actor's credentials (a sign-off's approver role; a token for the step). */
  assessGoLiveConditions(input: {
    /** The playbook's workflow id and run: a step's token is for `<playbookId>:<step>`, spent by this run's step. */
    playbookId: string;
    runId: string;
    step: PlaybookStepId;
    actor: string;
    role?: string;
    token?: string;
  }): Promise<GoLiveConditions>;
  openGoLivePlaybook(input: { playbookId: string; runId: string; startedBy: string; startedAt: string }): Promise<void>;
  /** Appends one done step and uses up the approval token that vouched for it; a retry does nothing. */
  recordPlaybookStep(input: {
    playbookId: string;
    runId: string;
    record: StepRecord;
    token?: { tokenId: string; subject: string };
  }): Promise<StepRecording>;
  closeGoLivePlaybook(input: {
    playbookId: string;
    runId: string;
    status: 'completed' | 'abandoned';
    actor: string;
    reason?: string;
    at: string;
  }): Promise<void>;
  auditPlaybookRefusal(input: {
    playbookId: string;
    refusal: StepRefusal;
    payload: unknown;
    key: string;
  }): Promise<void>;
  /** Captures the start snapshot and stores the session (a retry keeps the first snapshot). */
  openOperatorSession(input: {
    sessionId: string;
    operator: string;
    notes: string | null;
    startedAt: string;
  }): Promise<OperatorSessionView>;
  closeOperatorSession(input: {
    sessionId: string;
    actor: string;
    notes: string | null;
    endedAt: string;
  }): Promise<OperatorSessionView>;
}
