import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { median } from './stats.js';

/** A goal: its text, and whether a figure's value (and its ratio to the floor) meets it. */
export interface Goal {
  readonly text: string;
  meets(value: number, floorRatio: number | undefined): boolean;
}

/** One repetition's measurement of one figure. */
export interface Measurement {
  readonly name: string;
  readonly database: string;
  readonly value: number;
  readonly unit: string;
  /** value / floor, where the figure is a time comparable to the floor. */
  readonly floorRatio?: number;
  readonly goal?: Goal;
}

/** A figure as reported: the median of its repetitions, with their spread. */
export interface Figure extends Measurement {
  readonly spread: { readonly min: number; readonly max: number; readonly repetitions: number };
  readonly met?: boolean;
}

/**
 * Folds the repetitions of a benchmark into figures: each figure's value is the median of its
 * repetitions (not the best one), reported with the lowest and highest, and its goal is judged
 * on that median.
 */
export function summarize(repetitions: Measurement[][]): Figure[] {
  const byKey = new Map<string, Measurement[]>();
  for (const measurements of repetitions) {
    for (const m of measurements) {
      const key = `${m.database}\u0000${m.name}`;
      byKey.set(key, [...(byKey.get(key) ?? []), m]);
    }
  }
  return [...byKey.values()].map((all) => {
    const first = all[0]!;
    const values = all.map((m) => m.value);
    const value = median(values);
    const ratios = all.flatMap((m) => (m.floorRatio === undefined ? [] : [m.floorRatio]));
    const floorRatio = ratios.length > 0 ? median(ratios) : undefined;
    return {
      ...first,
      value,
      ...(floorRatio === undefined ? {} : { floorRatio }),
      spread: { min: Math.min(...values), max: Math.max(...values), repetitions: values.length },
      ...(first.goal ? { met: first.goal.meets(value, floorRatio) } : {}),
    };
  });
}

export function printTable(figures: Figure[]): void {
  const rows = [
    ['figure', 'database', 'median', 'spread (min–max)', 'vs floor', 'goal', ''],
    ...figures.map((f) => [
      f.name,
      f.database,
      `${format(f.value)} ${f.unit}`,
      f.spread.repetitions > 1 ? `${format(f.spread.min)}–${format(f.spread.max)}` : '',
      f.floorRatio === undefined ? '' : `${f.floorRatio.toFixed(1)}×`,
      f.goal?.text ?? '',
      f.met === undefined ? '' : f.met ? 'met' : 'NOT MET',
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
}

function format(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(3);
}

const rounded = (value: number) => Number(value.toFixed(4));

export function writeResults(path: URL, figures: Figure[], options: { quick: boolean; repetitions: number }): void {
  mkdirSync(new URL('.', path), { recursive: true });
  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', memory_gib: Math.round(totalmem() / 2 ** 30), node: process.version, platform: process.platform };
  const figuresJson = figures.map((f) => ({
    name: f.name,
    database: f.database,
    value: rounded(f.value),
    spread: { min: rounded(f.spread.min), max: rounded(f.spread.max), repetitions: f.spread.repetitions },
    unit: f.unit,
    floor_ratio: f.floorRatio === undefined ? null : Number(f.floorRatio.toFixed(3)),
    goal: f.goal ? { text: f.goal.text, met: f.met } : null,
  }));
  writeFileSync(path, `${JSON.stringify({ at: new Date().toISOString(), quick: options.quick, repetitions: options.repetitions, machine, figures: figuresJson }, null, 2)}\n`);
}
