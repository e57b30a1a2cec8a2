import { readFileSync } from 'node:fs';

/** The middle value; for an even count, the mean of the two middle ones. */
export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Nearest-rank percentile. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const began = performance.now();
  const result = await fn();
  return [result, performance.now() - began];
}

/** Runs per second of `clients` clients each doing `run` back to back for `seconds`. */
export async function runsPerSecond(clients: number, seconds: number, run: (client: number, i: number) => Promise<void>): Promise<number> {
  let completed = 0;
  const deadline = performance.now() + seconds * 1000;
  const began = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      for (let i = 0; performance.now() < deadline; i++) {
        await run(client, i);
        completed++;
      }
    }),
  );
  return completed / ((performance.now() - began) / 1000);
}

/** A process's peak resident set (VmHWM), in MB. */
export function peakRssMb(pid: number | 'self'): number {
  return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? Number.NaN) / 1024;
}
