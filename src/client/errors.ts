import { dealWorkflowId } from '../../workflows/names';

export { InvalidRequestError } from '../domain/shared/validation';

/** A deal with this id was already started: Warden never runs one deal twice. */
export class DealAlreadyStartedError extends Error {
  override name = 'DealAlreadyStartedError';
  constructor(readonly dealId: string) {
    super(`deal ${dealId} was already started (workflow ${dealWorkflowId(dealId)})`);
  }
}

/** A playbook or an operator's session with this id is already running. */
export class AlreadyRunningError extends Error {
  override name = 'AlreadyRunningError';
}
