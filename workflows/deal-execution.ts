import {
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { ApplyMode } from '../src/domain/control-plane/types';
import type { Clearance, DealExit, ExecutionAuthorization } from '../src/domain/deals/activities';
import { positionKeyOf } from '../src/domain/deals/positions';
import {
  type DealInput,
  type DealProgress,
  dealSummary,
  type DealTerms,
  DealInputSchema,
  type DealResult,
  type ExecuteDealInput,
  type ParsedDealInput,
} from '../src/domain/deals/types';
import { parseInput } from '../src/domain/shared/errors';
import { ApprovalInbox } from './lib/approval-inbox';
import { type Execution, executeWithRetries, executionOf, runExecutor } from './lib/deal-executor';
import { controlPlane, gates, now } from './lib/deal-gates';
import { DealSaga } from './lib/deal-saga';
import type { Generation } from './lib/patches';
import { SEARCH_ATTRIBUTES_PATCH } from './lib/visibility';
import { splitCarried } from './lib/continued';
import {
  learnFromOutcome,
  ORDER_WAIT_ROLLS_OVER,
  type OrderWait,
  type Sizing,
  strategyOrderOf,
  strategyPassed,
  strategyVerdict,
} from './lib/deal-strategy';
import { readStrategyOutcome, type StrategyGateOutcome } from '../src/domain/strategy/gate';
import { approveOrderSignal, dealAdmissionUpdate, dealProgressQuery, reconcileDealUpdate } from './messages';

export { EXECUTOR_RETRY } from './lib/deal-executor';

/**
 * Since this patch a deal without a strategy step is admitted and cleared (control plane, reserve, prod
 * eligibility, permit) by one local activity in one transaction: one round trip where it made four.
 */
const DEAL_ADMITTED_AT_ONCE = 'deal-admitted-at-once';

/**
 * Since this generation (only: never asked of older runs) a deal with a strategy step is admitted at once
 * too: the strategy gate is decided by admission's local activity, after the control plane, and an order
 * it lets go on at once is cleared at its size there. An order that waits for approval, a shadow trade or
 * a denial goes on from the gate's outcome in the deal's own strategy step, as before.
 */
const DEAL_STRATEGY_AT_ONCE = 'deal-strategy-at-once';

/**
 * Since this generation (only) an executed deal without a strategy step records its outcome (audit and
 * KPI events, its claim's result) in its settle's transaction: one local activity where it made two.
 */
const DEAL_SETTLE_RECORDS_OUTCOME = 'deal-settle-records-outcome';

/** The patches the deal asks after its first local activity (here, in deal-strategy and in deal-saga). */
const LATER_DEAL_PATCHES = [
  'deal-policy',
  'strategy-gate',
  'signed-approvals',
  'deal-release-approval',
  DEAL_ADMITTED_AT_ONCE,
];

/**
 * A deal started since its generation patch takes every patched path on that one marker: nine patches
 * cost each deal nine markers and nine visibility writes. Newest first; see Patches for a later one.
 */
const DEAL_GENERATION_2026_12 = [
  'deal-claims',
  'deal-reconciliation',
  'deal-patches-first',
  ...LATER_DEAL_PATCHES,
  SEARCH_ATTRIBUTES_PATCH,
];
const DEAL_GENERATIONS: readonly Generation[] = [
  {
    id: 'deal-generation-2026-12-admission',
    covers: [...DEAL_GENERATION_2026_12, ORDER_WAIT_ROLLS_OVER, DEAL_STRATEGY_AT_ONCE, DEAL_SETTLE_RECORDS_OUTCOME],
  },
  { id: 'deal-generation-2026-12-rolls', covers: [...DEAL_GENERATION_2026_12, ORDER_WAIT_ROLLS_OVER] },
  { id: 'deal-generation-2026-12', covers: DEAL_GENERATION_2026_12 },
];

/** A step either hands the deal on to the next one or ends it with its result. */
type Step<T> = T | { ended: DealResult };
/** What the deal is, by the engine's policy (since deal-policy) or the producer's ask (before it). */
interface Admitted {
  policed: boolean;
  executionClass: ParsedDealInput['executionClass'];
  strategyRequired: boolean;
  /** Since deal-admitted-at-once: the permit admission already issued (reserved, eligible), if it cleared the deal. */
  issued?: Issued;
  /** Since deal-strategy-at-once: the strategy gate's outcome, as admission asked it. */
  evaluated?: StrategyGateOutcome;
  /** Since deal-strategy-at-once: the size admission cleared an order at. */
  sizing?: Sizing;
}
/** The permit issued to the deal (its reservation held). */
interface Issued {
  permitId: string;
  expiresAt: string;
}
/** The permit the deal may execute with, and the control plane's word on how. */
interface Cleared extends Issued {
  ready: Extract<ExecutionAuthorization, { authorized: true }>;
}
type Executed = Extract<Execution, { ok: true }> & { applyMode: Exclude<ApplyMode, 'dry_run'> };

/**
 * What a run continued as new carries: the deal as it waited for its order's approval (nothing reserved
 * or permitted yet), with what admission and the strategy gate decided. The next run claims the deal id
 * for itself (a claim passes to a new run while nothing executed) and decides nothing again: a hand-over
 * a flood set off must not change the deal (the pre-execute check still reads the control plane then).
 */
interface CarriedDeal {
  admitted: Pick<Admitted, 'policed' | 'executionClass' | 'strategyRequired'>;
  gates: DealProgress['gates'];
  order: OrderWait;
}
/** The start payload, plus what only a run continued as new carries. */
export type DealRun = DealInput & { carried?: CarriedDeal };

/**
 * A governed deal: control plane → reserve → prod eligibility → permit →
 * control plane again → execute → settle → KPI → audit. A denial is a typed
 * result; whatever was reserved or permitted before it is released once.
 */
export async function dealExecution(rawRun: DealRun): Promise<DealResult> {
  const { carried, start } = splitCarried<CarriedDeal>(rawRun);
  const input = parseInput(DealInputSchema, start, 'dealExecution input');
  const deal = new DealSaga(input, DEAL_GENERATIONS);
  if (carried) {
    deal.progress.gates.push(...carried.gates);
    deal.progress.stage = 'awaiting_order_approval';
  }
  setHandler(dealProgressQuery, () => deal.progress, {
    description: 'Which gate the deal is at, what each gate said, and the result once done.',
  });
  // An update, not a signal: the operator hears at once whether the word was taken, and gets the result.
  setHandler(reconcileDealUpdate, (word) => deal.reconcile(word), {
    validator: (word) => deal.validateReconciliation(word),
    description:
      'Settle or release a deal that may have executed. {"executed": false, "actor": "alice", "reason": "no fill"}',
  });
  // The producer's one round trip (update-with-start): answered once admission is decided.
  setHandler(dealAdmissionUpdate, (terms?: DealTerms) => deal.admission(terms), {
    validator: (terms?: DealTerms) => deal.validateAdmission(terms),
    description:
      "Answers once the deal is admitted (its permit used, with the apply mode) or ended (its result). Optional: the deal's terms, refused if the deal runs with others.",
  });
  // Since deal-claims, the deal id is claimed first; since deal-reconciliation, ambiguity keeps the
  // reservation and waits for reconcileDeal, and a cancelled deal compensates (or reconciles).
  const { patches } = deal;
  deal.claims = patches.has('deal-claims');
  deal.reconciles = patches.has('deal-reconciliation');
  // Since deal-patches-first, the later patches are decided here, before the first local activity. A
  // worker under load can record a local activity's result in one workflow task and act on it in the
  // next; a replay then acts on it a task early, where a patch first asked after it reads as absent (the
  // load harness's nondeterminism, issue 15). Decided up front, every later patched() answers the same.
  if (patches.has('deal-patches-first')) for (const id of LATER_DEAL_PATCHES) patches.has(id);
  deal.visibility.decide(patches).show(
    {
      engine: input.engine,
      symbol: input.symbol,
      ...(input.strategyId !== undefined ? { strategy: input.strategyId } : {}),
      stage: carried ? 'awaiting_order_approval' : 'admission',
    },
    `${dealSummary(input)}: ${carried ? 'its order waits for approval' : 'at admission'}`,
  );
  if (!deal.reconciles) return governDeal(input, deal, carried);
  try {
    return await governDeal(input, deal, carried);
  } catch (error) {
    if (!isCancellation(error)) throw error;
    return CancellationScope.nonCancellable(() => deal.afterCancel(error));
  }
}

/** The deal's steps in order; each one that ends the deal answers its result. */
async function governDeal(input: ParsedDealInput, deal: DealSaga, carried?: CarriedDeal): Promise<DealResult> {
  if (deal.claims) {
    const ended = await deal.claim(carried !== undefined);
    if (ended) return ended;
  }
  const admitted: Step<Admitted> = carried?.admitted ?? (await admissionStep(input, deal));
  if ('ended' in admitted) return admitted.ended;
  const handOver = async (order: OrderWait): Promise<never> => {
    // An admission update still waiting is answered DealHandedOver (the client asks the new run).
    deal.handingOver = true;
    await condition(allHandlersFinished);
    const { policed, executionClass, strategyRequired } = admitted;
    return continueAsNew<typeof dealExecution>({
      ...input,
      carried: { admitted: { policed, executionClass, strategyRequired }, gates: deal.progress.gates, order },
    });
  };
  const sized = await strategyStep(input, deal, admitted, handOver, carried?.order);
  if ('ended' in sized) return sized.ended;
  const issued = admitted.issued ?? (await permitStep(input, deal, sized.amount, admitted.policed));
  if ('ended' in issued) return issued.ended;
  const cleared = await preExecuteStep(input, deal, admitted.executionClass, issued);
  if ('ended' in cleared) return cleared.ended;
  const executed = await executeStep(input, deal, admitted, sized, cleared);
  if ('ended' in executed) return executed.ended;
  return settleStep(input, deal, admitted.policed, sized, cleared.permitId, executed);
}

/**
 * Since deal-policy, what the deal is comes from the engine's policy: the stricter of its class and the
 * producer's ask, the gates it requires, and whether anything can execute it; before any reserve. Then
 * the control plane's first check.
 */
async function admissionStep(input: ParsedDealInput, deal: DealSaga): Promise<Step<Admitted>> {
  const policed = deal.patches.has('deal-policy');
  let executionClass = input.executionClass;
  let strategyRequired = false;
  // Without a strategy step nothing stands between admission and the permit: one transaction does it all.
  // Since deal-strategy-at-once, the strategy gate goes in that local activity too (its own transaction).
  const strategyId = deal.patches.covers(DEAL_STRATEGY_AT_ONCE) ? input.strategyId : undefined;
  const atOnce =
    policed && (input.strategyId === undefined || strategyId !== undefined) && deal.patches.has(DEAL_ADMITTED_AT_ONCE);
  if (policed) {
    deal.admitting = atOnce;
    const admission = await gates.admitDeal({
      dealId: input.dealId,
      engine: input.engine,
      requestedClass: input.executionClass,
      strategyId: input.strategyId,
      recommendationId: input.recommendationId,
      executorTaskQueue: input.executorTaskQueue,
      ownTaskQueue: workflowInfo().taskQueue,
      ...(atOnce
        ? {
            clear: {
              key: deal.key,
              amount: input.amount,
              symbol: input.symbol,
              actor: input.requestedBy,
              at: now(),
              ...(input.domain !== undefined ? { domain: input.domain } : {}),
              side: input.side,
              ...(strategyId !== undefined ? { strategy: strategyOrderOf(input, strategyId, now()) } : {}),
            },
          }
        : {}),
    });
    deal.admitting = false;
    executionClass = admission.executionClass;
    if (!admission.admitted) return { ended: await deal.deny('policy', admission.reason, admission.detail) };
    strategyRequired = admission.policy.strategyRequired;
    const evaluated = admission.strategy;
    if (admission.clearance !== undefined)
      return clearedStep(input, deal, admission.clearance, { executionClass, strategyRequired, evaluated });
    // The control plane let the deal past it in admission's transaction; the strategy step reads the gate.
    if (evaluated !== undefined) {
      deal.progress.gates.push({ gate: 'control_plane', ok: true });
      return { policed, executionClass, strategyRequired, evaluated };
    }
  }
  const entry = await gates.checkControlPlane({
    executionClass,
    ...(policed ? { deal: exitOf(input, input.amount) } : {}),
  });
  if (!entry.allowed) return { ended: await deal.deny('control_plane', entry.reason, entry.detail) };
  deal.progress.gates.push({ gate: 'control_plane', ok: true });
  return { policed, executionClass, strategyRequired };
}

/** Since deal-admitted-at-once: what admission's one transaction answered, gate by gate, as the steps would have. */
async function clearedStep(
  input: ParsedDealInput,
  deal: DealSaga,
  clearance: Clearance,
  admitted: Pick<Admitted, 'executionClass' | 'strategyRequired' | 'evaluated'>,
): Promise<Step<Admitted>> {
  const { executionClass, strategyRequired, evaluated } = admitted;
  // Cleared with an order: the gate let it go on at once, at the size read here as admission read it.
  const reading =
    evaluated === undefined || input.strategyId === undefined
      ? undefined
      : readStrategyOutcome(evaluated, input.strategyId, input.amount, strategyRequired);
  const sized = reading?.next === 'go' ? reading : undefined;
  // The gates in seed order; those before the one that refused (all, once cleared) passed.
  const order: DealProgress['gates'] = [
    { gate: 'control_plane', ok: true },
    ...(sized ? strategyPassed(sized) : []),
    { gate: 'risk', ok: true },
    ...(input.recommendationId !== undefined ? [{ gate: 'prod_eligibility' as const, ok: true }] : []),
    { gate: 'permit', ok: true },
  ];
  const passed = clearance.cleared ? order.length : order.findIndex((entry) => entry.gate === clearance.gate);
  deal.progress.gates.push(...order.slice(0, passed));
  if (!clearance.cleared) {
    if (clearance.disarm)
      await controlPlane.disarmToDryRun({ symbol: input.symbol, dealId: input.dealId, detail: clearance.detail });
    // Admission's transaction already gave its reservation back: the outcome says so.
    const undone = clearance.released ? ['reservation released'] : [];
    return { ended: await deal.deny(clearance.gate, clearance.reason, clearance.detail, undone) };
  }
  deal.reserved = true;
  deal.permit = { id: clearance.permitId, consumed: false };
  return {
    policed: true,
    executionClass,
    strategyRequired,
    issued: { permitId: clearance.permitId, expiresAt: clearance.expiresAt },
    ...(sized ? { sizing: { amount: sized.amount, paper: sized.paper, governed: sized.governed } } : {}),
  };
}

/** The deal as the exit rules read it (src/domain/deals/exits.ts): its position, side and (sized) amount. */
const exitOf = (input: ParsedDealInput, amount: number): DealExit => ({
  dealId: input.dealId,
  position: positionKeyOf(input),
  side: input.side,
  amount,
});

/** Seed 001's order: the strategy gate (and the order's approval) after the control plane, before the risk reserve. */
async function strategyStep(
  input: ParsedDealInput,
  deal: DealSaga,
  { strategyRequired: required, evaluated, sizing }: Admitted,
  handOver: (order: OrderWait) => Promise<never>,
  resumed?: OrderWait,
): Promise<Step<Sizing>> {
  const { dealId, strategyId } = input;
  const inbox = new ApprovalInbox({
    verifyApproval: gates.verifyApproval,
    audit: { subject: `deal:${dealId}`, auditRejectedMessage: gates.auditRejectedMessage },
  });
  setHandler(approveOrderSignal, inbox.receiver('approve', 'approveOrder'), {
    description: 'Approve this order (L2 or CRITICAL impact). {"approver": "alice", "role": "tech_lead"}',
  });
  // Since deal-strategy-at-once, an order admission cleared goes on at the size it cleared it at.
  if (sizing) return sizing;
  if (strategyId === undefined || !deal.patches.has('strategy-gate'))
    return { amount: input.amount, paper: false, governed: false };
  const verdict = await strategyVerdict(
    input,
    strategyId,
    deal.progress,
    inbox,
    required,
    deal.visibility,
    deal.patches,
    handOver,
    resumed,
    evaluated,
  );
  if (verdict.outcome === 'denied') return { ended: await deal.deny('strategy', verdict.reason, verdict.detail) };
  if (verdict.outcome === 'shadow')
    return { ended: await deal.finish({ status: 'shadow', dealId, strategyId, amount: input.amount }) };
  return verdict.sizing;
}

/** Reserve, prod eligibility, permit: one local activity each (before deal-admitted-at-once, or after a strategy step). */
async function permitStep(
  input: ParsedDealInput,
  deal: DealSaga,
  amount: number,
  policed: boolean,
): Promise<Step<Issued>> {
  const { dealId, requestedBy: actor } = input;
  const { progress, key } = deal;
  progress.stage = 'reserve';
  const reservation = await gates.reserveExposure({
    key,
    engine: input.engine,
    amount,
    actor,
    at: now(),
    // Warden keeps positions of policed deals only: only they can be exits.
    ...(policed ? { exit: exitOf(input, amount) } : {}),
  });
  if (!reservation.ok) return { ended: await deal.deny('risk', reservation.reason, reservation.detail) };
  deal.reserved = true;
  progress.gates.push({ gate: 'risk', ok: true });

  if (input.recommendationId !== undefined) {
    progress.stage = 'prod_eligibility';
    const eligible = await gates.assertProdEligible({
      recommendationId: input.recommendationId,
      domain: input.domain,
      actor,
      correlationId: key,
    });
    if (!eligible.ok) return { ended: await deal.deny('prod_eligibility', eligible.reason, eligible.detail) };
    progress.gates.push({ gate: 'prod_eligibility', ok: true });
  }

  progress.stage = 'permit';
  const issued = await gates.issuePermit({ key, dealId, symbol: input.symbol, at: now(), actor });
  if (!issued.granted) {
    if (issued.disarm) await controlPlane.disarmToDryRun({ symbol: input.symbol, dealId, detail: issued.detail });
    return { ended: await deal.deny('permit', issued.reason, issued.detail) };
  }
  deal.permit = { id: issued.permitId, consumed: false };
  progress.gates.push({ gate: 'permit', ok: true });
  return { permitId: issued.permitId, expiresAt: issued.expiresAt };
}

/** The control plane again, and the permit used: a kill switch engaged since admission stops the deal here. */
async function preExecuteStep(
  input: ParsedDealInput,
  deal: DealSaga,
  executionClass: Admitted['executionClass'],
  issued: Issued,
): Promise<Step<Cleared>> {
  const { dealId } = input;
  const { progress } = deal;
  const permit = deal.permit!;
  // A kill switch engaged since the first check stops the deal here, before any side effect.
  progress.stage = 'pre_execute_check';
  const ready = await gates.authorizeExecution({
    permitId: permit.id,
    dealId,
    executionClass,
    at: now(),
    ...(deal.claims ? { run: deal.run } : {}),
  });
  if (!ready.authorized && ready.ambiguous) {
    // Another run of this deal already used the permit (a reset): it never executes again here.
    permit.consumed = true;
    deal.permitId = permit.id;
    return { ended: await deal.awaitReconciliation(ready.detail) };
  }
  if (!ready.authorized) return { ended: await deal.deny(ready.gate, ready.reason, ready.detail) };
  permit.consumed = true;
  progress.gates.push({ gate: 'pre_execute_check', ok: true });
  progress.applyMode = ready.applyMode;
  return { permitId: permit.id, expiresAt: issued.expiresAt, ready };
}

/** Dry run, paper and OBSERVE_ONLY end with nothing held; otherwise the executor runs (and may be reconciled). */
async function executeStep(
  input: ParsedDealInput,
  deal: DealSaga,
  { policed, executionClass }: Admitted,
  { amount, paper }: Sizing,
  { permitId, expiresAt, ready }: Cleared,
): Promise<Step<Executed>> {
  const { dealId } = input;
  // OBSERVE_ONLY never calls an executor: authorizeExecution caps it to dry_run, and this holds it too.
  const observeOnly = policed && executionClass === 'OBSERVE_ONLY';
  if (ready.applyMode === 'dry_run' || paper || observeOnly) {
    // The whole gate path ran; nothing executes, so nothing stays reserved.
    await deal.compensate(
      paper ? 'paper: not executed' : observeOnly ? 'OBSERVE_ONLY: not executed' : 'dry_run: not executed',
    );
    if (paper) return { ended: await deal.finish({ status: 'paper', dealId, strategyId: input.strategyId!, amount }) };
    return { ended: await deal.finish({ status: 'dry_run', dealId, applyMode: 'dry_run', permitId }) };
  }

  deal.progress.stage = 'execute';
  const applyMode = ready.applyMode;
  const order: ExecuteDealInput = {
    dealId,
    engine: input.engine,
    symbol: input.symbol,
    amount,
    applyMode,
    permitId,
    ...(policed ? { executionClass } : {}),
  };
  const taskQueue = input.executorTaskQueue ?? workflowInfo().taskQueue;
  let execution: Execution;
  if (deal.reconciles) {
    deal.permitId = permitId;
    deal.applyMode = applyMode;
    if (policed) deal.settlePosition = { position: positionKeyOf(input), side: input.side };
    const outcome = await runExecutor({
      taskQueue,
      order,
      // The first attempt must start while the permit is valid: a late start is a provable non-execution.
      startWithinMs: new Date(expiresAt).getTime() - new Date().getTime(),
      runWithinMs: (ready.executorTimeoutSeconds ?? 60) * 1000,
      mayContinue: async () =>
        (await gates.checkControlPlane({ executionClass, ...(policed ? { deal: exitOf(input, amount) } : {}) }))
          .allowed,
      onScheduled: () => void (deal.executorScheduled = true),
    });
    if (outcome.kind === 'ambiguous') return { ended: await deal.awaitReconciliation(outcome.cause) };
    if (outcome.kind === 'not_executed' && outcome.reason === 'permit_expired')
      return { ended: await deal.deny('permit', 'permit_expired', outcome.cause) };
    execution = outcome.kind === 'executed' ? executionOf(outcome.result) : { ok: false, cause: outcome.cause };
    if (execution.ok) deal.executed = execution;
  } else execution = await executeWithRetries(taskQueue, order);
  if (!execution.ok) {
    await deal.compensate(`executor failed: ${execution.cause}`);
    return { ended: await deal.finish({ status: 'failed', dealId, error: execution.cause, compensated: true }, false) };
  }
  return { ...execution, applyMode };
}

/** The executor answered: settle (and move Warden's position), teach the strategy, record the executed deal. */
async function settleStep(
  input: ParsedDealInput,
  deal: DealSaga,
  policed: boolean,
  { governed }: Sizing,
  permitId: string,
  { realizedLoss, externalId, pnl, applyMode }: Executed,
): Promise<DealResult> {
  const { dealId } = input;
  deal.progress.stage = 'settle';
  const result: DealResult = { status: 'executed', dealId, applyMode, permitId, realizedLoss, externalId };
  // A strategy's outcome is learnt between the settle and the deal's record, as before.
  const recordsOutcome = !governed && deal.patches.covers(DEAL_SETTLE_RECORDS_OUTCOME);
  await gates.settleResult({
    key: deal.key,
    realizedLoss,
    actor: input.requestedBy,
    // Warden keeps the position from its own executed deals (strategy's, or the engine's without one).
    ...(policed ? { position: { position: positionKeyOf(input), side: input.side } } : {}),
    ...(recordsOutcome ? { outcome: deal.outcomeRecord(result, true) } : {}),
  });
  deal.reserved = false;
  if (recordsOutcome) return deal.concluded(result);
  if (governed) await learnFromOutcome(input.strategyId!, dealId, pnl, now());
  return deal.finish(result, true);
}
