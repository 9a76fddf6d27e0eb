import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ReasonSchema } from '../../domain/control-plane/types';
import { EXIT, expectArgs, field, type Invocation, out, printJsonOr, sub, UsageError } from './shared';

// Policy as code: `warden policy export > policies.yaml`, `plan -f`, `apply -f`. The file is read here and
// sent whole; Warden parses it, so its errors name the file, the line, the path and the field.

/** The file named by `-f`/`--file`, as the operation reads it: its name (for errors) and its text. */
export function policyFileOf(inv: Invocation): { file: string; text: string } {
  const file = field('--file', z.string().min(1, 'expected a policy file (-f policies.yaml)'), inv.flags.file);
  try {
    return { file, text: readFileSync(file, 'utf8') };
  } catch (error) {
    throw new UsageError(`${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
}

async function policyExport(inv: Invocation): Promise<number> {
  expectArgs('policy export', inv.args, 0);
  const { document, yaml } = await inv.ops.call('policy.export', {});
  if (inv.flags.json) out(JSON.stringify(document, null, 2));
  else process.stdout.write(yaml);
  return EXIT.ok;
}

async function policyPlan(inv: Invocation): Promise<number> {
  expectArgs('policy plan', inv.args, 0);
  const plan = await inv.ops.call('policy.plan', policyFileOf(inv));
  printJsonOr(inv.flags, plan, () => [plan.text]);
  return EXIT.ok;
}

async function policyApply(inv: Invocation): Promise<number> {
  expectArgs('policy apply', inv.args, 0);
  const reason = inv.flags.reason === undefined ? {} : { reason: field('--reason', ReasonSchema, inv.flags.reason) };
  const applied = await inv.ops.call('policy.apply', { ...policyFileOf(inv), ...reason });
  printJsonOr(inv.flags, applied, () => applied.message.split('\n'));
  return EXIT.ok;
}

export const policyFileCommands: Record<string, (inv: Invocation) => Promise<number>> = {
  policy: sub('policy', { export: policyExport, plan: policyPlan, apply: policyApply }),
};
