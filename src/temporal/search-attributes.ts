import { SearchAttributeType } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { WARDEN_SEARCH_ATTRIBUTES, type WardenSearchAttributeName } from '../../workflows/search-attributes';

/** The `temporal` CLI's type names, for `--search-attribute Name=Type` and `search-attribute create --type`. */
const CLI_TYPES: Record<SearchAttributeType, string> = {
  [SearchAttributeType.TEXT]: 'Text',
  [SearchAttributeType.KEYWORD]: 'Keyword',
  [SearchAttributeType.INT]: 'Int',
  [SearchAttributeType.DOUBLE]: 'Double',
  [SearchAttributeType.BOOL]: 'Bool',
  [SearchAttributeType.DATETIME]: 'Datetime',
  [SearchAttributeType.KEYWORD_LIST]: 'KeywordList',
};

type IndexedValueType = temporal.api.enums.v1.IndexedValueType;

/** What `listSearchAttributes` and `addSearchAttributes` need of a connection (client or worker). */
export interface OperatorConnection {
  operatorService: {
    listSearchAttributes(request: {
      namespace: string;
    }): Promise<{ customAttributes?: Record<string, IndexedValueType> | null }>;
    addSearchAttributes(request: {
      namespace: string;
      searchAttributes: Record<string, IndexedValueType>;
    }): Promise<unknown>;
  };
}

const names = Object.keys(WARDEN_SEARCH_ATTRIBUTES) as WardenSearchAttributeName[];
const indexedType = (name: WardenSearchAttributeName): IndexedValueType =>
  temporal.api.enums.v1.IndexedValueType[`INDEXED_VALUE_TYPE_${WARDEN_SEARCH_ATTRIBUTES[name]}`];

/** `temporal server start-dev` flags registering every Warden attribute, in every namespace it creates. */
export function searchAttributeArgs(): string[] {
  return names.flatMap((name) => ['--search-attribute', `${name}=${CLI_TYPES[WARDEN_SEARCH_ATTRIBUTES[name]]}`]);
}

/** The commands an operator runs to register them on a self-hosted cluster (Temporal Cloud: `tcld`, same names and types). */
export function registerCommands(namespace: string, which: readonly WardenSearchAttributeName[] = names): string[] {
  return which.map(
    (name) =>
      `temporal operator search-attribute create --namespace ${namespace} --name ${name} --type ${CLI_TYPES[WARDEN_SEARCH_ATTRIBUTES[name]]}`,
  );
}

export class SearchAttributesMissing extends Error {
  constructor(
    readonly namespace: string,
    readonly missing: WardenSearchAttributeName[],
  ) {
    super(
      `namespace ${namespace} lacks Warden's search attributes ${missing.join(', ')} (or has them with another type): ` +
        `Warden's workflows set them, and their tasks would fail without them. Register them first:\n  ` +
        registerCommands(namespace, missing).join('\n  '),
    );
  }
}

/**
 * Checks, before a worker polls, that `namespace` has every Warden attribute with its type; a workflow
 * task setting an unknown attribute fails and retries for ever, so a missing one stops the start here.
 * `register` (the embedded dev server, tests) adds what is missing instead.
 */
export async function ensureSearchAttributes(
  connection: OperatorConnection,
  namespace: string,
  { register = false } = {},
): Promise<void> {
  const listed = await connection.operatorService.listSearchAttributes({ namespace });
  const have = listed.customAttributes ?? {};
  const missing = names.filter((name) => have[name] !== indexedType(name));
  if (missing.length === 0) return;
  const conflicting = missing.filter((name) => have[name] !== undefined);
  if (!register || conflicting.length > 0) throw new SearchAttributesMissing(namespace, missing);
  await registerSearchAttributes(connection, namespace, missing);
}

/** Adds the attributes (all by default); the time-skipping test server takes this but cannot list. */
export async function registerSearchAttributes(
  connection: OperatorConnection,
  namespace: string,
  which: readonly WardenSearchAttributeName[] = names,
): Promise<void> {
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(which.map((name) => [name, indexedType(name)])),
  });
}
