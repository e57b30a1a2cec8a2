import { DEFAULT_LIMITS } from '../src/core/limits.js';
import { validateManifest } from '../src/core/manifest/validate.js';
import type { Measurement } from './report.js';
import { median } from './stats.js';

/**
 * Manifest validation time per step count (SPEC §11: linear; at the step limit well under a
 * second; over it refused as fast). No database: validation is pure. The manifest is the hard
 * case for upstream checks: a chain where every step references the first step's output and
 * its predecessor's.
 */
export function validationManifest(n: number) {
  return {
    name: `validation-${n}`,
    steps: Array.from({ length: n }, (_, i) => ({
      key: `s${i}`,
      depends_on: i === 0 ? [] : [`s${i - 1}`],
      prompt: i === 0 ? 'start' : `{{steps.s0.output}} then {{steps.s${i - 1}.output}} for {{inputs.region}}`,
    })),
  };
}

function timeValidation(n: number, repeats: number): number {
  const manifest = validationManifest(n);
  const samples: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const began = performance.now();
    const result = validateManifest(manifest, { providers: ['offline'] });
    samples.push(performance.now() - began);
    if (result.ok !== n <= DEFAULT_LIMITS.maxSteps) throw new Error(`validation of ${n} steps answered ${result.ok}`);
  }
  return median(samples);
}

export function validationBenchmarks(quick: boolean): Measurement[] {
  const repeats = quick ? 5 : 20;
  timeValidation(1000, 3); // warm the JIT
  const sizes = [250, 500, 1000];
  const times = sizes.map((n) => timeValidation(n, repeats));
  const figures: Measurement[] = sizes.map((n, i) => ({
    name: `validate a manifest of ${n} steps, median`,
    database: '-',
    value: times[i]!,
    unit: 'ms',
    ...(n === DEFAULT_LIMITS.maxSteps ? { goal: { text: '≤ 500 ms at the step limit (well under a second)', meets: (v: number) => v <= 500 } } : {}),
  }));
  // Linear growth: time per step stays flat from 250 to 1000 steps.
  const perStep = sizes.map((n, i) => times[i]! / n);
  const spread = Math.max(...perStep) / Math.min(...perStep);
  figures.push({ name: 'validation time per step, max/min over 250, 500, 1000 steps (linear: ≈ 1×)', database: '-', value: spread, unit: '×', goal: { text: '≤ 2×', meets: (v) => v <= 2 } });
  const over = timeValidation(DEFAULT_LIMITS.maxSteps + 1, repeats);
  figures.push({ name: `refuse ${DEFAULT_LIMITS.maxSteps + 1} steps (over the limit), median`, database: '-', value: over, unit: 'ms', goal: { text: '≤ 10 ms (refused before any per-step work)', meets: (v) => v <= 10 } });
  const huge = timeValidation(16_000, quick ? 3 : 10);
  figures.push({ name: 'refuse 16000 steps (over the limit), median', database: '-', value: huge, unit: 'ms', goal: { text: '≤ 250 ms', meets: (v) => v <= 250 } });
  return figures;
}
