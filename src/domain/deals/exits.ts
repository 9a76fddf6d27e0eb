import type { ReduceCheck } from '../control-plane/rules';

// Exits (issue 17): a deal that reduces the position Warden keeps for its strategy (or engine) and
// symbol. In reduce mode only exits pass the control plane; in any mode an exit takes open risk but no
// daily exposure. Judged against the position less what exits already admitted hold of it, so exits
// racing on one position never together take more than it holds, or flip its sign.

const cents = (amount: number) => Math.round(amount * 100);

export interface ExitRequest {
  /** Warden's signed position: buys add, sells subtract. */
  position: number;
  /** What admitted exits not yet settled or released hold of it (always ≥ 0). */
  held: number;
  side: 'buy' | 'sell';
  amount: number;
}

/**
 * An exit strictly reduces the absolute position and never flips its sign: a sell against a long, a buy
 * against a short, of at most what the position still has free of other exits.
 */
export function judgeExit({ position, held, side, amount }: ExitRequest): ReduceCheck {
  const open = cents(position);
  if (open === 0) return { reduces: false, detail: 'no position to reduce: only exits run' };
  const reducingSide = open > 0 ? 'sell' : 'buy';
  if (side !== reducingSide)
    return {
      reduces: false,
      detail: `side: a ${side} adds to the ${open > 0 ? 'long' : 'short'} position ${position}; only a ${reducingSide} reduces it`,
    };
  const free = Math.abs(open) - cents(held);
  if (cents(amount) > free)
    return {
      reduces: false,
      detail: `amount: ${amount} is more than the ${Math.max(0, free) / 100} of the position ${position} not already being exited (${held} held by other exits): it would flip the sign; at most ${Math.max(0, free) / 100}`,
    };
  return { reduces: true };
}

/** Might the deal be an exit? Only then is the position locked and judged (a buy against a long never is). */
export const mayReduce = (position: number, side: 'buy' | 'sell') =>
  (cents(position) > 0 && side === 'sell') || (cents(position) < 0 && side === 'buy');
