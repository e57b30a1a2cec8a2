import { describe, expect, it } from 'vitest';
import { summarize, type Measurement } from '../bench/report.js';
import { median } from '../bench/stats.js';

/** Issue 14: the bench reports the median of several repetitions (not the best), with their spread, and judges goals on the median. */
describe('bench figures', () => {
  it('takes the middle value, or the mean of the two middle ones', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it('folds repetitions into the median with the lowest and highest, and judges the goal on the median', () => {
    const goal = { text: '≤ 2.5× floor', meets: (_: number, ratio: number | undefined) => ratio !== undefined && ratio <= 2.5 };
    const rep = (value: number, floorRatio: number): Measurement[] => [
      { name: 'per step', database: 'postgres', value, unit: 'ms', floorRatio, goal },
      { name: 'per step', database: 'pglite', value: value * 2, unit: 'ms' },
    ];
    const [postgres, pglite] = summarize([rep(1, 2), rep(5, 9), rep(2, 2.4)]);
    expect(postgres).toMatchObject({ name: 'per step', database: 'postgres', value: 2, floorRatio: 2.4, spread: { min: 1, max: 5, repetitions: 3 }, met: true });
    expect(pglite).toMatchObject({ database: 'pglite', value: 4, spread: { min: 2, max: 10, repetitions: 3 } });
    expect(pglite!.met).toBeUndefined();
    // The best repetition alone would meet it; the median does not.
    const [missed] = summarize([rep(1, 2), rep(5, 9), rep(6, 3)]);
    expect(missed).toMatchObject({ value: 5, floorRatio: 3, met: false });
  });
});
