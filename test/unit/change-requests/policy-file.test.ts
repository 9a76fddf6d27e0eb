import { describe, expect, it } from 'vitest';
import { diffPolicyDocuments } from '../../../src/domain/change-requests/changes';
import {
  formatPolicyFileError,
  parsePolicyFile,
  policyDocumentToYaml,
  proposedDocument,
  validatePolicyDocument,
} from '../../../src/domain/change-requests/policy-file';
import { current } from './replay-fixture';

const errorsOf = (text: string) => {
  const parsed = parsePolicyFile(text, 'policies.yaml');
  return parsed.ok ? [] : parsed.errors.map(formatPolicyFileError);
};

describe('policies as a YAML file', () => {
  it('exports a commented, stable file that reads back as the same document: no changes', () => {
    const yaml = policyDocumentToYaml(current);
    expect(yaml.startsWith('# Warden policies')).toBe(true);
    // Sections in the document's order, each field in the schema's.
    expect(yaml.indexOf('risk:')).toBeLessThan(yaml.indexOf('heimdall:'));
    expect(yaml).toMatch(/GLOBAL:\n {4}maxDailyLoss: null\n {4}maxDailyExposure: 1000\n/);
    const shuffled = { ...current, risk: { WHOLESALE: current.risk.WHOLESALE!, GLOBAL: current.risk.GLOBAL! } };
    expect(policyDocumentToYaml(shuffled)).toBe(yaml);
    const read = parsePolicyFile(yaml, 'policies.yaml');
    if (!read.ok) throw new Error(read.errors.map(formatPolicyFileError).join('\n'));
    expect(read.document).toEqual(current);
    expect(diffPolicyDocuments(current, read.document)).toEqual([]);
  });

  it('names the file, the line, the path and the field of each bad value', () => {
    const yaml = policyDocumentToYaml(current)
      .replace('maxDailyExposure: 300', 'maxDailyExposure: -3')
      .replace('prodUseEnabled: false', 'prodUseEnabled: maybe\n    colour: red');
    const lines = yaml.split('\n');
    const lineOf = (needle: string) => lines.findIndex((l) => l.includes(needle)) + 1;
    expect(errorsOf(yaml)).toEqual([
      `policies.yaml:${lineOf('maxDailyExposure: -3')}: risk.WHOLESALE.maxDailyExposure: must be 0 or more`,
      `policies.yaml:${lineOf('maybe')}: heimdall.OFFERS.prodUseEnabled: Invalid input: expected boolean, received string`,
      `policies.yaml:${lineOf('colour')}: heimdall.OFFERS.colour: unknown field`,
    ]);
  });

  it('names a bad key, a missing field, bad YAML and an empty file', () => {
    const entry = 'maxDailyLoss: 1, maxDailyExposure: null, maxOpenRisk: null, maxActionsPerDay: null, enabled: true';
    expect(errorsOf(`risk:\n  wholesale: {${entry}}\n`)).toEqual([
      'policies.yaml:2: risk.wholesale: expected an engine name in capitals, e.g. WHOLESALE',
    ]);
    expect(errorsOf('engines:\n  WHOLESALE:\n    executionClass: SANDBOX_EXEC\n')).toEqual([
      'policies.yaml:2: engines.WHOLESALE.strategyRequired: missing: expected a boolean',
      'policies.yaml:2: engines.WHOLESALE.recommendationRequired: missing: expected a boolean',
    ]);
    expect(errorsOf('risk:\n  GLOBAL: {maxDailyLoss: 1\n')[0]).toMatch(/^policies\.yaml:3: /);
    expect(errorsOf('# nothing\n')).toEqual(['policies.yaml: the file is empty: expected a policy document']);
  });

  it('a file may hold a part: what it leaves out stays as it is', () => {
    const read = parsePolicyFile('controlPlane:\n  applyMode: dry_run\n', 'p.yaml');
    expect(read.ok).toBe(true);
    if (!read.ok) return;
    expect(diffPolicyDocuments(current, read.document)).toEqual([
      { kind: 'control_plane', target: 'applyMode', before: 'testnet', after: 'dry_run' },
    ]);
    expect(proposedDocument(current, read.document)).toEqual({
      ...current,
      controlPlane: { goLive: true, applyMode: 'dry_run' },
    });
  });

  it('a JSON document (the API body) is held to the same schema', () => {
    expect(validatePolicyDocument({ controlPlane: { applyMode: 'fast' } }, 'body')).toMatchObject({
      ok: false,
      errors: [{ file: 'body', path: 'controlPlane.applyMode' }],
    });
  });
});
