import { describe, expect, it } from 'vitest';
import { namesField } from '../../reliability/fuzz/verdicts';

// The fuzz harness's judge of "the refusal names the field": a judge that passes everything proves nothing.
describe('namesField', () => {
  const known = new Set(['reason', 'amount']);

  it('takes a field the schema knows, or the whole body, as named', () => {
    expect(namesField('invalid input: amount: must be positive', known, {})).toBe(true);
    expect(namesField('body: must be an object', known, 'x')).toBe(true);
  });

  it("takes a parser's line position after the name as naming it", () => {
    expect(namesField('body:1: Missing closing "quote', known, 'x')).toBe(true);
    expect(namesField('body:12:3: Unexpected token', known, 'x')).toBe(true);
  });

  it('takes an unknown query key still percent-encoded (a lone surrogate) as named', () => {
    const key = '\ud800x';
    expect(namesField('query.%ED%A0%80x: unknown field', known, { [key]: '1' })).toBe(true);
    // As the fuzz at 1,000 sent one: fetch's URL parser encodes the quote, and the dot splits no name here.
    expect(
      namesField('query.Xp54%2363%ED%BF%BFAfUy%3E.u%27%7B9: unknown field', known, { "Xp54#63\udfffAfUy>.u'{9": true }),
    ).toBe(true);
  });

  it("takes a policy document's own name and line as the place it names", () => {
    const sent = { file: 'policy.yaml', text: '[oops' };
    expect(namesField('policy.yaml:1: Flow sequence must end with a ]', known, sent)).toBe(true);
    expect(namesField('policy.yaml: the file is empty: expected a policy document', known, sent)).toBe(true);
    expect(namesField('other.yaml:1: Flow sequence must end with a ]', known, sent)).toBe(false);
  });

  it('refuses a message that names nothing, or a field neither known nor sent', () => {
    expect(namesField('Invalid input', known, { reason: 'x' })).toBe(false);
    expect(namesField('colour: must be red', known, { reason: 'x' })).toBe(false);
    expect(namesField('query.%ED%A0%80y: unknown field', known, { '\ud800x': '1' })).toBe(false);
  });
});
