// What a batch of deals cost each process on the machine: this one (the worker
// and its clients), the dev server it started, and the PostgreSQL it writes to.
// On these 2 cores the three share the CPU, so their sum per deal is what bounds
// deals/s, and the bare deal's sum against the governed deal's says how far any
// worker-side saving can take the ratio. Read from /proc: Linux only.
import { readdirSync, readFileSync } from 'node:fs';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../src/db/database';

/** CPU in ms, by process. */
export interface CpuByProcess {
  worker: number;
  temporal: number;
  postgres: number;
}

const CLOCK_TICK_MS = 10; // USER_HZ is 100 on Linux

interface Stat {
  pid: number;
  ppid: number;
  name: string;
  cpuMs: number;
}

function readStat(pid: string): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The name is in parentheses and may hold spaces: the fields after it are split from its last ')'.
    const name = text.slice(text.indexOf('(') + 1, text.lastIndexOf(')'));
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return {
      pid: Number(pid),
      ppid: Number(fields[1]),
      name,
      cpuMs: (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_MS,
    };
  } catch {
    return undefined; // gone between the listing and the read
  }
}

/**
 * A meter for this process, the dev server (a `temporal` child of this process) and the PostgreSQL
 * serving `db` (its postmaster, found as the parent of a backend, and the postmaster's children). A
 * backend that exits between two readings takes its CPU with it: the pool keeps its connections open.
 * Undefined where /proc is not there.
 */
export async function cpuMeter(db: Kysely<Database>): Promise<(() => CpuByProcess) | undefined> {
  if (process.platform !== 'linux') return undefined;
  const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db);
  const postmaster = readStat(String(rows[0]!.pid))?.ppid;
  return () => {
    const sample: CpuByProcess = { worker: 0, temporal: 0, postgres: 0 };
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      const stat = readStat(pid);
      if (stat === undefined) continue;
      if (stat.pid === process.pid) sample.worker += stat.cpuMs;
      else if (stat.ppid === process.pid && stat.name.startsWith('temporal')) sample.temporal += stat.cpuMs;
      else if (postmaster !== undefined && (stat.pid === postmaster || stat.ppid === postmaster))
        sample.postgres += stat.cpuMs;
    }
    return sample;
  };
}

/** Per deal, from two samples. */
export const cpuPerDeal = (before: CpuByProcess, after: CpuByProcess, deals: number): CpuByProcess => ({
  worker: (after.worker - before.worker) / deals,
  temporal: (after.temporal - before.temporal) / deals,
  postgres: (after.postgres - before.postgres) / deals,
});

export const totalOf = (cpu: CpuByProcess) => cpu.worker + cpu.temporal + cpu.postgres;
