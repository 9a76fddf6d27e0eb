// Positions (issue 13 item 3): net signed notional per (strategy, symbol), or
// (engine, symbol) for deals without a strategy, kept from Warden's own
// executed deals and reconciled by operators. No schema here: a deal's
// workflow reads whose position it moves without building the policies'.

export const POSITION_SCOPES = ['strategy', 'engine'] as const;
export type PositionScope = (typeof POSITION_SCOPES)[number];

export interface PositionKey {
  scope: PositionScope;
  /** The strategy id or the engine name. */
  scopeId: string;
  symbol: string;
}

export interface Position extends PositionKey {
  /** Signed notional: buys add, sells subtract. */
  quantity: number;
  updatedBy: string;
  updatedAt: string;
}

/** Whose position a deal moves: its strategy's, or its engine's when it names none. */
export function positionKeyOf(deal: { strategyId?: string | undefined; engine: string; symbol: string }): PositionKey {
  return deal.strategyId === undefined
    ? { scope: 'engine', scopeId: deal.engine, symbol: deal.symbol }
    : { scope: 'strategy', scopeId: deal.strategyId, symbol: deal.symbol };
}

/** An executed deal's change to its position, in cents-exact arithmetic. */
export function positionAfter(quantity: number, side: 'buy' | 'sell', amount: number): number {
  const cents = Math.round(quantity * 100) + (side === 'buy' ? 1 : -1) * Math.round(amount * 100);
  return cents / 100;
}
