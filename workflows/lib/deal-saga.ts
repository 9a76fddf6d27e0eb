// What a deal holds and how it ends: a denial or a provable non-execution
// releases what it took, once; a failure that may have executed keeps the
// reservation and waits for an operator's `reconcileDeal`; the outcome is
// recorded (and, since deal-claims, on the deal's claim).
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  condition,
  proxyLocalActivities,
  workflowInfo,
} from '@temporalio/workflow';
import { type ClaimOutcome, sameTerms } from '../../src/domain/deals/claims';
import type { DealActivities, DealOutcomeRecord, SettlePosition } from '../../src/domain/deals/activities';
import {
  type DealAdmissionAnswer,
  type DealGate,
  type DealTerms,
  DealTermsSchema,
  type DealProgress,
  type DealResult,
  dealTermsOf,
  type ParsedDealInput,
  type ReconcileDealInput,
  ReconcileDealInputSchema,
} from '../../src/domain/deals/types';
import type { ApplyMode } from '../../src/domain/control-plane/types';
import { ErrorType, parseInput } from '../../src/domain/shared/errors';
import { type Generation, Patches } from './patches';
import { Visibility } from './visibility';

const gates = proxyLocalActivities<DealActivities>({
  startToCloseTimeout: '10 seconds',
  retry: {
    initialInterval: '200 milliseconds',
    maximumInterval: '10 seconds',
    nonRetryableErrorTypes: [ErrorType.ReservationNotFound, ErrorType.ReservationStateError],
  },
});

const now = () => new Date().toISOString(); // workflow time: deterministic, and skipped in tests

type Reconciliation = ReturnType<typeof ReconcileDealInputSchema.parse>;

export class DealSaga {
  readonly key: string;
  readonly progress: DealProgress;
  /** The deal in the Web UI: engine, symbol and strategy from the start, its outcome (and gate) at the end. */
  readonly visibility = new Visibility();
  /** The deal's patches: its generation asked first thing, every other patch through it. */
  readonly patches: Patches;
  reserved = false;
  permit: { id: string; consumed: boolean } | undefined;
  /**
   * Since deal-admitted-at-once, while admission's one transaction runs: it may reserve and permit
   * without this run hearing it (a cancel mid-call), so compensation gives both back by the deal's key.
   */
  admitting = false;
  /** Since deal-claims: the deal id is claimed first, and the outcome recorded on the claim. */
  claims = false;
  /** This run is handing the deal over to a new run (its order waits): an admission update asks that one. */
  handingOver = false;
  /** Since deal-reconciliation: executor attempts driven here, ambiguity reconciled, cancellation compensated. */
  reconciles = false;
  /** The executor may have run from the moment its first attempt is scheduled. */
  executorScheduled = false;
  /** What the executor answered, once it did: a cancel after this settles instead of reconciling. */
  executed: { realizedLoss: number; externalId: string | null; pnl: number } | undefined;
  /** The permit used and the mode the deal runs in, for a reconciled result. */
  permitId: string | null = null;
  applyMode: Exclude<ApplyMode, 'dry_run'> | null = null;
  /** Where an executed deal moves Warden's position (since deal-policy). */
  settlePosition: SettlePosition | undefined;
  private compensation: string | null = null;
  private awaiting = false;
  /** Words taken and not yet audited, in arrival order; before deal-release-approval, at most one. */
  private readonly words: Reconciliation[] = [];
  /** A word counted: the deal settles or releases, and takes no other. */
  private wordCounted = false;
  /** Since deal-release-approval: a release counts only under an applied deal_release change request. */
  private releaseNeedsApproval = false;
  /** Words that did not count, with why: their updates answer the refusal, the deal keeps waiting. */
  private readonly refused = new Map<Reconciliation, string>();

  constructor(
    private readonly input: ParsedDealInput,
    generations: readonly Generation[],
  ) {
    this.patches = Patches.since(generations);
    this.key = `deal:${input.dealId}`;
    this.progress = { dealId: input.dealId, stage: 'control_plane', gates: [], applyMode: null, result: null };
  }

  get run(): { workflowId: string; runId: string } {
    const { workflowId, runId } = workflowInfo();
    return { workflowId, runId };
  }

  /**
   * Claims the deal id, first thing. Answers the deal's result when it ends
   * here: the first workflow's result, a denial, or (after a reset past the
   * pre-execute check) the wait for reconciliation.
   */
  async claim(handedOver = false): Promise<DealResult | undefined> {
    const { input, progress } = this;
    // A run handed the deal (its order waiting) takes the claim over quietly: the deal still waits.
    if (!handedOver) progress.stage = 'claim';
    const claimed: ClaimOutcome = await gates.claimDeal({
      dealId: input.dealId,
      terms: dealTermsOf(input),
      ...this.run,
      actor: input.requestedBy,
    });
    if (claimed.outcome === 'claimed') return undefined;
    if (claimed.outcome === 'result') {
      progress.result = claimed.result;
      progress.stage = 'done';
      return claimed.result;
    }
    if (claimed.outcome === 'denied') return this.deny('claim', claimed.reason, claimed.detail);
    this.reserved = true;
    this.permitId = claimed.permitId;
    this.applyMode = claimed.applyMode;
    return this.awaitReconciliation(claimed.cause);
  }

  /** Gives back what the deal holds; `undone` is what a gate already gave back in its own transaction. */
  async compensate(reason: string, undone: string[] = []): Promise<void> {
    const { key, input } = this;
    this.progress.stage = 'compensate';
    if (
      this.permit &&
      !this.permit.consumed &&
      (await gates.revokePermit({ permitId: this.permit.id, reason })).revoked
    )
      undone.push('permit revoked');
    else if (!this.permit && this.admitting && (await gates.revokePermit({ key, reason })).revoked)
      undone.push('permit revoked');
    this.permit = undefined;
    if (
      (this.reserved || this.admitting) &&
      (await gates.releaseReservation({ key, actor: input.requestedBy, reason })).released
    )
      undone.push('reservation released');
    this.reserved = false;
    this.admitting = false;
    this.compensation = undone.length > 0 ? `${undone.join(', ')}: ${reason}` : null;
  }

  async finish(result: DealResult, kpiSuccess?: boolean, outcomeKey = `${this.key}:outcome`): Promise<DealResult> {
    this.progress.stage = 'record';
    await gates.recordDealOutcome(this.outcomeRecord(result, kpiSuccess, outcomeKey));
    return this.concluded(result);
  }

  /** What the deal's end records (recordDealOutcome's input, or the settle's since deal-settle-records-outcome). */
  outcomeRecord(result: DealResult, kpiSuccess?: boolean, outcomeKey = `${this.key}:outcome`): DealOutcomeRecord {
    const { input } = this;
    const kpi =
      kpiSuccess === undefined
        ? null
        : {
            domain: input.domain ?? input.engine,
            metric: 'deal_executed',
            success: kpiSuccess,
            value: input.amount,
            at: now(),
          };
    return {
      key: outcomeKey,
      actor: input.requestedBy,
      result,
      compensation: this.compensation,
      kpi,
      ...(this.claims ? { claim: this.run } : {}),
    };
  }

  /** The deal is over, its outcome recorded: the progress and the Web UI say so. */
  concluded(result: DealResult): DealResult {
    const { progress } = this;
    progress.result = result;
    progress.stage = 'done';
    this.visibility.show(
      {
        stage: 'done',
        outcome: result.status,
        deniedGate: result.status === 'denied' ? result.gate : null,
        awaitingApproval: null,
      },
      result.status === 'denied'
        ? `Denied at ${result.gate}: ${result.reason}`
        : result.status === 'failed'
          ? `Failed, compensated: ${result.error}`
          : `Ended: ${result.status}`,
    );
    return result;
  }

  async deny(gate: DealGate, reason: string, detail: string, undone: string[] = []): Promise<DealResult> {
    this.progress.gates.push({ gate, ok: false, reason });
    await this.compensate(`denied at ${gate}: ${reason}`, [...undone]);
    // A refused claim is this run's own outcome, not the deal id's: keyed by the run.
    const key = gate === 'claim' ? `${this.key}:claim-refused:${this.run.workflowId}:${this.run.runId}` : undefined;
    return this.finish({ status: 'denied', dealId: this.input.dealId, gate, reason, detail }, undefined, key);
  }

  /** The executor answered: settle, then record the executed deal. */
  async settle(realizedLoss: number): Promise<void> {
    this.progress.stage = 'settle';
    await gates.settleResult({
      key: this.key,
      realizedLoss,
      actor: this.input.requestedBy,
      ...(this.settlePosition ? { position: this.settlePosition } : {}),
    });
    this.reserved = false;
  }

  /**
   * Invariant 9: the order may have executed. The reservation stays held, the
   * wait is audited (and notifies operators), and only `reconcileDeal`
   * settles or releases it. Nothing cancels the wait.
   */
  awaitReconciliation(cause: string): Promise<DealResult> {
    return CancellationScope.nonCancellable(async () => {
      const { input, progress } = this;
      const waiting: DealResult = {
        status: 'needs_reconciliation',
        dealId: input.dealId,
        applyMode: this.applyMode,
        permitId: this.permitId,
        cause,
      };
      progress.stage = 'awaiting_reconciliation';
      await gates.recordDealOutcome({
        key: `${this.key}:needs_reconciliation`,
        actor: input.requestedBy,
        result: waiting,
        compensation: null,
        kpi: null,
        ...(this.claims ? { claim: this.run } : {}),
      });
      progress.result = waiting;
      this.visibility.show(
        { stage: 'awaiting_reconciliation', outcome: 'needs_reconciliation' },
        `May have executed (${cause}): the reservation stays held until someone reconciles it with reconcileDeal`,
      );
      this.releaseNeedsApproval = this.patches.has('deal-release-approval');
      this.awaiting = true;
      const word = await this.countedReconciliation();
      if (!word.executed) {
        await this.compensate(`reconciled by ${word.actor} as not executed: ${word.reason}`);
        return this.finish(
          {
            status: 'failed',
            dealId: input.dealId,
            error: `not executed (reconciled by ${word.actor}): ${word.reason}`,
            compensated: true,
          },
          false,
        );
      }
      const realizedLoss = word.realizedLoss ?? 0;
      try {
        await this.settle(realizedLoss);
      } catch (error) {
        // A reservation no longer held (released by an earlier run) has nothing to settle; the word still counts.
        if (!(error instanceof ActivityFailure)) throw error;
      }
      return this.finish(
        {
          status: 'executed',
          dealId: input.dealId,
          applyMode: this.applyMode!,
          permitId: this.permitId!,
          realizedLoss,
          externalId: word.externalId ?? null,
        },
        true,
      );
    });
  }

  /**
   * The first word that counts. Before deal-release-approval every word did; since, a release that its
   * change request does not back is audited as refused and dropped, and the deal waits for the next word.
   * Words are queued, so refused ones sent meanwhile never crowd out the release its change request sends.
   */
  private async countedReconciliation(): Promise<Reconciliation> {
    for (let attempt = 0; ; attempt++) {
      await condition(() => this.words.length > 0);
      const word = this.words.shift()!;
      const audit = await gates.auditReconciliation({
        key: attempt === 0 ? `${this.key}:reconciled` : `${this.key}:reconciled:${attempt}`,
        dealId: this.input.dealId,
        executed: word.executed,
        realizedLoss: word.realizedLoss ?? 0,
        actor: word.actor,
        reason: word.reason,
        ...(this.releaseNeedsApproval
          ? { releaseNeedsApproval: true, ...(word.changeRequestId ? { changeRequestId: word.changeRequestId } : {}) }
          : {}),
      });
      if (!this.releaseNeedsApproval || !audit || audit.counted) {
        this.wordCounted = true;
        for (const later of this.words.splice(0))
          this.refused.set(later, `deal ${this.input.dealId} was reconciled by an earlier word`);
        return word;
      }
      this.refused.set(word, audit.problem);
    }
  }

  /** The update's validator: synchronous, so a refused word never reaches history. */
  /**
   * The `admission` update's validator: a caller naming terms (update-with-start attaches to a running
   * deal of the same id) must name this deal's, or it would take another deal's admission for its own.
   */
  validateAdmission(terms: unknown): void {
    if (terms === undefined || terms === null) return;
    const asked = parseInput(DealTermsSchema, terms, 'admission terms');
    const ours = dealTermsOf(this.input);
    if (!sameTerms(ours, asked))
      throw ApplicationFailure.nonRetryable(
        `deal ${this.input.dealId} runs with other terms: ${JSON.stringify(ours)}`,
        ErrorType.DealTermsMismatch,
      );
  }

  /**
   * Once the last gate used the permit (the deal is admitted and executes durably), or the deal ended.
   * The terms are checked again here: a validator does not run when an accepted update is replayed.
   */
  async admission(terms?: DealTerms): Promise<DealAdmissionAnswer> {
    this.validateAdmission(terms);
    const { progress } = this;
    await condition(() => progress.applyMode !== null || progress.result !== null || this.handingOver);
    if (progress.applyMode === null && progress.result === null)
      throw ApplicationFailure.nonRetryable(
        `deal ${this.input.dealId} handed over to a new run while its order waits for approval: ask again`,
        ErrorType.DealHandedOver,
      );
    const { dealId } = this.input;
    const permitId = this.permit?.id ?? this.permitId;
    if (progress.applyMode !== null && permitId !== null)
      return { outcome: 'admitted', dealId, permitId, applyMode: progress.applyMode };
    return { outcome: 'ended', dealId, result: progress.result! };
  }

  validateReconciliation(raw: ReconcileDealInput): void {
    const word = parseInput(ReconcileDealInputSchema, raw, 'reconcileDeal');
    // Before deal-release-approval the first word was the only one; since, words queue until one counts.
    if (!this.awaiting || this.wordCounted || (!this.releaseNeedsApproval && this.words.length > 0))
      throw ApplicationFailure.nonRetryable(
        `deal ${this.input.dealId} is not awaiting reconciliation (stage ${this.progress.stage})`,
        ErrorType.ReconciliationRefused,
      );
    if (word.executed && (this.applyMode === null || this.permitId === null))
      throw ApplicationFailure.nonRetryable(
        `executed: deal ${this.input.dealId} never used a permit in testnet or live, so it cannot have executed`,
        ErrorType.ReconciliationRefused,
      );
    if (!word.executed && word.realizedLoss !== undefined)
      throw ApplicationFailure.nonRetryable('realizedLoss: only for an executed deal', ErrorType.InvalidInput);
    if (this.releaseNeedsApproval && !word.executed && word.changeRequestId === undefined)
      throw ApplicationFailure.nonRetryable(
        `changeRequestId: releasing deal ${this.input.dealId} needs an approved deal_release change request (warden deal reconcile ${this.input.dealId} --executed false opens one)`,
        ErrorType.ReconciliationRefused,
      );
  }

  /** The update's handler: takes the word (the first one only) and answers with the reconciled result. */
  reconcile(raw: ReconcileDealInput): Promise<DealResult> {
    const word = ReconcileDealInputSchema.parse(raw);
    this.words.push(word);
    // Handlers run in the root scope: a deal cancelled while it waits must still answer.
    return CancellationScope.nonCancellable(async () => {
      await condition(() => this.progress.stage === 'done' || this.refused.has(word));
      const problem = this.refused.get(word);
      if (problem !== undefined) throw ApplicationFailure.nonRetryable(problem, ErrorType.ReconciliationRefused);
      return this.progress.result!;
    });
  }

  /**
   * A cancel request: before the executor was scheduled, compensate and end
   * cancelled; after it, the order may be live, so reconcile; after it
   * answered, finish the settle. Runs in a non-cancellable scope.
   */
  async afterCancel(cancel: unknown): Promise<DealResult> {
    if (this.progress.stage === 'done' && this.progress.result) return this.progress.result;
    if (this.executed && this.applyMode && this.permitId) {
      const { realizedLoss, externalId } = this.executed;
      if (this.reserved) await this.settle(realizedLoss);
      return this.finish(
        {
          status: 'executed',
          dealId: this.input.dealId,
          applyMode: this.applyMode,
          permitId: this.permitId,
          realizedLoss,
          externalId,
        },
        true,
      );
    }
    if (this.executorScheduled) return this.awaitReconciliation('cancelled after the executor was scheduled');
    await this.compensate('cancelled before execution');
    await this.finish({
      status: 'failed',
      dealId: this.input.dealId,
      error: 'cancelled before execution',
      compensated: true,
    });
    // The run ends cancelled, as asked.
    throw cancel instanceof ActivityFailure && cancel.cause instanceof CancelledFailure ? cancel.cause : cancel;
  }
}
