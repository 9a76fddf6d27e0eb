// `npm run chaos:endurance`: Warden on `npm start`'s defaults under steady
// mixed traffic for ENDURANCE_MINUTES (default 30), one line a minute, then
// the verdict and .data/reliability/endurance.json. On demand, not in npm test.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { report } from './lib/report';
import { runEndurance, type Sample, sampleLine } from './scenarios/endurance';

function positiveNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name}: expected a positive number, got ${raw}`);
  return value;
}

async function main(): Promise<boolean> {
  const minutes = positiveNumber('ENDURANCE_MINUTES', 30);
  // The full run's five minutes of warm-up in thirty, scaled to shorter runs.
  const warmupMinutes = Math.max(1, Math.round(positiveNumber('ENDURANCE_WARMUP_MINUTES', (minutes * 5) / 30)));
  if (warmupMinutes >= minutes) throw new Error(`warm-up (${warmupMinutes} min) must be shorter than the run`);
  const nodeArgs = process.env.ENDURANCE_NODE_ARGS?.split(' ').filter((a) => a !== '');
  // ENDURANCE_KEEP=1 keeps the data folder (log, PGlite, dev-server state) to look at afterwards.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'warden-endurance-'));
  console.log(
    `endurance: ${minutes} min of mixed traffic on npm start's defaults (warm-up ${warmupMinutes} min), in ${dir}`,
  );
  const samples: Sample[] = [];
  try {
    const result = await runEndurance({
      dir,
      minutes,
      warmupMinutes,
      ...(nodeArgs ? { nodeArgs } : {}),
      onSample: (sample) => {
        samples.push(sample);
        console.log(sampleLine(sample));
      },
    });
    return report('endurance', [result], { samples });
  } finally {
    if (process.env.ENDURANCE_KEEP !== '1') rmSync(dir, { recursive: true, force: true });
    else console.log(`data kept in ${dir}`);
  }
}

main().then(
  (passed) => process.exit(passed ? 0 : 1),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
