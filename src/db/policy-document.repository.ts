import type { ApproverRole } from '../domain/autonomy/phases';
import type { PolicyChangeKind, PolicyChangeOf, PolicyDocument } from '../domain/change-requests/changes';
import { readApiKeyState } from './api-keys.repository';
import { listApprovers } from './autonomy.repository';
import { listBreakerRules } from './breakers.repository';
import { listCommandPolicies } from './command-policies.repository';
import { readControlPlaneState } from './control-plane.repository';
import { listExecutionPolicies } from './execution-policies.repository';
import { listHeimdallPolicies } from './heimdall.repository';
import { readOperationalValue } from './operational-changes.repository';
import { listRiskPolicies } from './risk.repository';
import { listStrategies } from './strategy.repository';
import type { Db } from './transaction';
import { listRegressionPolicies } from './watchdogs.repository';

// The governed state as one document (`warden policy export`), read from the repositories that own each
// part, and the stored value of one change's target in the shape of its `before`.

const byKey = <T, V>(rows: readonly T[], key: (r: T) => string, value: (r: T) => V): Record<string, V> =>
  Object.fromEntries(rows.map((r) => [key(r), value(r)]));

/** Every piece of governed state a change request may change, read from the repositories that own it. */
export async function readPolicyDocument(db: Db): Promise<PolicyDocument> {
  const [risk, tripwires, breakers, heimdall, strategies, engines, commandTypes, approvers, controlPlane] =
    await Promise.all([
      listRiskPolicies(db),
      listRegressionPolicies(db),
      listBreakerRules(db),
      listHeimdallPolicies(db),
      listStrategies(db),
      listExecutionPolicies(db),
      listCommandPolicies(db),
      listApprovers(db),
      readControlPlaneState(db),
    ]);
  return {
    version: 1,
    risk: byKey(
      risk,
      (p) => p.engine,
      ({ engine: _e, paused: _p, ...settings }) => settings,
    ),
    tripwires: byKey(
      tripwires,
      (p) => `${p.domain}/${p.metric}`,
      ({ domain: _d, metric: _m, ...settings }) => settings,
    ),
    breakers: byKey(
      breakers,
      (r) => r.name,
      ({ name: _n, ...settings }) => settings,
    ),
    heimdall: byKey(
      heimdall,
      (p) => p.domain,
      ({ domain: _d, ...settings }) => settings,
    ),
    strategies: byKey(
      strategies,
      (s) => s.id,
      (s) => ({
        level: s.level,
        enabled: s.enabled,
        capital: s.capital,
        tokenRequired: s.tokenRequired,
        healthFloor: s.healthFloor,
      }),
    ),
    engines: byKey(
      engines,
      (p) => p.engine,
      (p) => ({
        executionClass: p.executionClass,
        strategyRequired: p.strategyRequired,
        recommendationRequired: p.recommendationRequired,
      }),
    ),
    commandTypes: byKey(
      commandTypes,
      (p) => p.commandType,
      (p) => ({ executionClass: p.executionClass, ...(p.safeInReduce ? { safeInReduce: true } : {}) }),
    ),
    approvers,
    controlPlane: { goLive: controlPlane.goLiveEnabled, applyMode: controlPlane.applyMode },
  };
}

export const isRestrictionId = (target: string) => /^[1-9][0-9]*$/.test(target);

/**
 * What is stored now for one change's target, in the shape of its `before` (null: absent). A request reads
 * its changes' `before` with this, and the applier checks it again before writing. With `document`, the
 * document's sections come from it (one read for a whole request) instead of the database.
 */
export async function readStoredValue<K extends PolicyChangeKind>(
  db: Db,
  kind: K,
  target: string,
  document?: PolicyDocument,
): Promise<PolicyChangeOf<K>['before']> {
  const section = async <S extends keyof PolicyDocument>(name: S) => (document ?? (await readPolicyDocument(db)))[name];
  const entry = async (name: Exclude<keyof PolicyDocument, 'version' | 'approvers' | 'controlPlane'>) =>
    (await section(name))[target] ?? null;
  const value = async (): Promise<unknown> => {
    switch (kind) {
      case 'risk_policy':
        return entry('risk');
      case 'regression_policy':
        return entry('tripwires');
      case 'breaker_rule':
        return entry('breakers');
      case 'heimdall_policy':
        return entry('heimdall');
      case 'strategy':
        return entry('strategies');
      case 'execution_policy':
        return entry('engines');
      case 'command_policy':
        return entry('commandTypes');
      case 'approver': {
        const [role = '', ...rest] = target.split(':');
        const name = rest.join(':');
        return ((await section('approvers'))[role as ApproverRole] ?? []).includes(name) ? { role, name } : null;
      }
      case 'api_key':
        return (await readApiKeyState(db, target)) ?? null;
      case 'control_plane':
        return (await section('controlPlane'))[target as 'goLive' | 'applyMode'] ?? null;
      case 'restriction':
        return activeRestriction(db, target);
      case 'execution_token':
      case 'strategy_pause':
      case 'breaker_event':
      case 'position':
      case 'deal_release':
        return readOperationalValue(db, kind, target);
    }
    return null;
  };
  return (await value()) as PolicyChangeOf<K>['before'];
}

/**
 * The active restriction a restriction change names: by id (the whole entry), or on an engine (`{ engine }`
 * while any is active there, narrowed by `selector`'s restriction kind and source when given).
 */
export async function activeRestriction(
  db: Db,
  target: string,
  selector: { restriction?: 'throttle' | 'pause' | undefined; source?: string | undefined } = {},
) {
  let query = db
    .selectFrom('engine_restriction')
    .select(['engine', 'kind', 'source'])
    .where('cleared_at', 'is', null)
    .orderBy('id');
  query = isRestrictionId(target) ? query.where('id', '=', target) : query.where('engine', '=', target);
  if (selector.restriction) query = query.where('kind', '=', selector.restriction);
  if (selector.source) query = query.where('source', '=', selector.source);
  const row = await query.executeTakeFirst();
  if (!row) return null;
  return isRestrictionId(target)
    ? { engine: row.engine, restriction: row.kind, source: row.source }
    : { engine: row.engine };
}
