import { Document, isMap, isNode, isScalar, LineCounter, type Node, parseDocument } from 'yaml';
import type { z } from 'zod';
import {
  type PartialPolicyDocument,
  PartialPolicyDocumentSchema,
  type PolicyDocument,
  PolicyDocumentSchema,
} from './changes';

// Policy as code: the governed state as a YAML file (`warden policy export`), read back by `plan` and
// `apply`. The file is the document of changes.ts; a file may hold any part of it (what it leaves out stays
// as it is). Errors name the file, the YAML path and the field, with the line when the YAML gives it.

const HEADER = [
  ' Warden policies: the governed state as code (`warden policy export`).',
  ' `warden policy plan -f FILE` shows what differs from the running state, what applies at once (it',
  ' tightens) and what needs approval (it loosens), and replays the last 7 days of deals and commands',
  ' through it; `warden policy apply -f FILE` submits it: the tightening part applies now, the rest',
  ' opens one change request. Leave out what you do not change; entries are disabled, never removed.',
];

/** One line per section, above it: what its entries are keyed by and what a null means. */
const SECTION_NOTES: Record<string, string> = {
  risk: ' risk caps per engine (seed 000); null is no cap; GLOBAL applies to every engine',
  tripwires: ' regression tripwires, keyed DOMAIN/metric',
  breakers: ' circuit-breaker rules, keyed by name (seed 002)',
  heimdall: ' prod eligibility per recommendation domain (seed 000 lever 3)',
  strategies: ' strategies (seed 001): a level rises only through an approved request',
  engines: ' what a deal on an engine is: its execution class and required gates',
  commandTypes: ' what a command type is: its execution class (a type not listed is PROD_EXEC)',
  approvers: ' who may approve, per approver role',
  controlPlane: ' go-live and the apply mode (dry_run, testnet, live)',
};

const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Record sections with their keys sorted; zod's output already holds each entry's fields in schema order. */
function canonical(doc: PolicyDocument): PolicyDocument {
  const parsed: Record<string, unknown> = PolicyDocumentSchema.parse(doc);
  for (const [section, value] of Object.entries(parsed))
    // Approver roles keep the catalogue's order (tech_lead first), as the schema gives them.
    if (section !== 'controlPlane' && section !== 'approvers' && value !== null && typeof value === 'object')
      parsed[section] = Object.fromEntries(
        Object.entries(value as Record<string, unknown>).sort(([a], [b]) => byKey(a, b)),
      );
  return parsed as PolicyDocument;
}

/** The document as YAML: stable (the same state always prints the same file) and commented. */
export function policyDocumentToYaml(doc: PolicyDocument): string {
  const yaml = new Document(canonical(doc));
  yaml.commentBefore = HEADER.join('\n');
  if (isMap(yaml.contents))
    for (const [i, pair] of yaml.contents.items.entries()) {
      if (!isScalar(pair.key)) continue;
      const note = SECTION_NOTES[String(pair.key.value)];
      if (note) pair.key.commentBefore = note;
      if (i > 0) pair.key.spaceBefore = true;
    }
  return yaml.toString({ lineWidth: 120 });
}

/** One problem with a policy file: where (the YAML path, and the line when known) and what. */
export interface PolicyFileError {
  file: string;
  /** Dotted path to the field, e.g. risk.WHOLESALE.maxDailyExposure; empty for the file as a whole. */
  path: string;
  line?: number;
  message: string;
}

export type PolicyFileResult = { ok: true; document: PartialPolicyDocument } | { ok: false; errors: PolicyFileError[] };

/** `policies.yaml:12: risk.WHOLESALE.maxDailyExposure: must be 0 or more` */
export function formatPolicyFileError(e: PolicyFileError): string {
  return `${e.file}${e.line === undefined ? '' : `:${e.line}`}: ${e.path === '' ? '' : `${e.path}: `}${e.message}`;
}

const dotted = (path: readonly PropertyKey[]) =>
  path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i > 0 ? '.' : ''}${String(p)}`)).join('');

/** Field errors of a parsed value, each naming its path; `lineOf` finds the line of a path when it can. */
function schemaErrors(
  error: z.ZodError,
  file: string,
  lineOf: (path: readonly PropertyKey[]) => number | undefined,
): PolicyFileError[] {
  return error.issues.flatMap((issue) => {
    // An unknown field is named by its own path, so the message points at it rather than its parent.
    const paths: (readonly PropertyKey[])[] =
      issue.code === 'unrecognized_keys' ? issue.keys.map((k) => [...issue.path, k]) : [issue.path];
    const message =
      issue.code === 'unrecognized_keys'
        ? 'unknown field'
        : issue.code === 'invalid_key'
          ? (issue.issues[0]?.message ?? issue.message)
          : issue.code === 'invalid_type' && issue.message.endsWith('received undefined')
            ? `missing: expected a ${issue.expected}`
            : issue.message;
    return paths.map((path) => {
      const line = lineOf(path);
      return { file, path: dotted(path), message, ...(line === undefined ? {} : { line }) };
    });
  });
}

/** A policy document given as a value (the API's JSON body): its field errors name `file` (e.g. "body"). */
export function validatePolicyDocument(value: unknown, file: string): PolicyFileResult {
  const parsed = PartialPolicyDocumentSchema.safeParse(value);
  return parsed.success
    ? { ok: true, document: parsed.data }
    : { ok: false, errors: schemaErrors(parsed.error, file, () => undefined) };
}

/** Reads a policy file: YAML syntax first, then every field against the document's schema. */
export function parsePolicyFile(text: string, file: string): PolicyFileResult {
  const lineCounter = new LineCounter();
  const yaml = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const lineAt = (offset: number) => lineCounter.linePos(offset).line;
  if (yaml.errors.length > 0)
    return {
      ok: false,
      errors: yaml.errors.map((e) => ({
        file,
        path: '',
        message: e.message.split('\n')[0]!,
        line: lineAt(e.pos[0]),
      })),
    };
  const value: unknown = yaml.toJS();
  if (value === null || value === undefined)
    return { ok: false, errors: [{ file, path: '', message: 'the file is empty: expected a policy document' }] };
  const parsed = PartialPolicyDocumentSchema.safeParse(value);
  if (parsed.success) return { ok: true, document: parsed.data };
  /** The line of the deepest node the path reaches: the field itself, or the entry that lacks it. */
  const lineOf = (path: readonly PropertyKey[]): number | undefined => {
    for (let n = path.length; n >= 0; n -= 1) {
      const keys = path.slice(0, n).map((p) => (typeof p === 'symbol' ? String(p) : p));
      const parent = n === 0 ? yaml.contents : yaml.getIn(keys.slice(0, -1), true);
      const key = keys[keys.length - 1];
      const pair =
        n > 0 && isMap(parent) ? parent.items.find((p) => isScalar(p.key) && p.key.value === key) : undefined;
      const node: unknown = pair?.key ?? (n === 0 ? yaml.contents : yaml.getIn(keys, true));
      if (isNode(node) && (node as Node).range) return lineAt((node as Node).range![0]);
    }
    return undefined;
  };
  return { ok: false, errors: schemaErrors(parsed.error, file, lineOf) };
}

/** The whole document a partial one proposes: what it gives replaces, what it leaves out stays. */
export function proposedDocument(current: PolicyDocument, partial: PartialPolicyDocument): PolicyDocument {
  return {
    version: 1,
    risk: { ...current.risk, ...partial.risk },
    tripwires: { ...current.tripwires, ...partial.tripwires },
    breakers: { ...current.breakers, ...partial.breakers },
    heimdall: { ...current.heimdall, ...partial.heimdall },
    strategies: { ...current.strategies, ...partial.strategies },
    engines: { ...current.engines, ...partial.engines },
    commandTypes: { ...current.commandTypes, ...partial.commandTypes },
    approvers: { ...current.approvers, ...partial.approvers },
    controlPlane: { ...current.controlPlane, ...partial.controlPlane },
  };
}
