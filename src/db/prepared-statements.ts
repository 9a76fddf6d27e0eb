import type pg from 'pg';

/**
 * Statements prepared per connection at most; a text past it runs unnamed, as before. Kysely sends its
 * values as parameters, so the gates' few dozen texts fit with room to spare, and a text that varies (a
 * multi-row insert's arity) cannot grow a backend's memory without bound.
 */
export const PREPARED_PER_CONNECTION = 256;

/**
 * PostgreSQL's answer when a table a prepared `select *` reads changed shape since (a migration run
 * while this process was up): "cached plan must not change result type".
 */
const FEATURE_NOT_SUPPORTED = '0A000';

type Query = (config: unknown, values?: unknown, callback?: unknown) => unknown;

/**
 * Each parameterized statement `client` sends is prepared on its connection once and executed by name
 * after: PostgreSQL then parses it once and may keep its plan, where an unnamed statement is parsed and
 * planned at every call. A gate's transaction is a dozen of them, so this is most of what PostgreSQL
 * spends on a deal (in the deal benchmark, its CPU per governed deal went from about 6 to 4 ms). A
 * statement a changed table made stale fails once, as any transient fault, and is prepared afresh under
 * a new name at its next call (the failed activity's retry); so is any other the server refuses that way.
 * Statements without parameters (BEGIN, COMMIT, savepoints, a migration's script) run unnamed. Needs a
 * session of its own per connection: not for a transaction-mode connection pooler in front of PostgreSQL.
 */
export function prepareStatements(client: pg.PoolClient): void {
  const names = new Map<string, string>();
  let prepared = 0;
  const query = client.query.bind(client) as Query;
  const named: Query = (config, values, callback) => {
    if (typeof config !== 'string' || !Array.isArray(values) || values.length === 0 || callback !== undefined)
      return query(config, values, callback);
    let name = names.get(config);
    if (name === undefined) {
      if (prepared >= PREPARED_PER_CONNECTION) return query(config, values);
      name = `warden_${prepared++}`;
      names.set(config, name);
    }
    return (query({ name, text: config, values }) as Promise<unknown>).catch((error: unknown) => {
      if ((error as { code?: unknown }).code === FEATURE_NOT_SUPPORTED) names.delete(config);
      throw error;
    });
  };
  Object.assign(client, { query: named });
}
