import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

export interface Figure {
  readonly name: string;
  readonly database: string;
  readonly value: number;
  readonly unit: string;
  /** value / floor, where the figure is a time comparable to the floor. */
  readonly floorRatio?: number;
  readonly goal?: { readonly text: string; readonly met: boolean };
}

export function printTable(figures: Figure[]): void {
  const rows = [
    ['figure', 'database', 'value', 'vs floor', 'goal', ''],
    ...figures.map((f) => [
      f.name,
      f.database,
      `${format(f.value)} ${f.unit}`,
      f.floorRatio === undefined ? '' : `${f.floorRatio.toFixed(1)}×`,
      f.goal?.text ?? '',
      f.goal ? (f.goal.met ? 'met' : 'NOT MET') : '',
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

export function writeResults(path: URL, figures: Figure[], options: { quick: boolean }): void {
  mkdirSync(new URL('.', path), { recursive: true });
  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', memory_gib: Math.round(totalmem() / 2 ** 30), node: process.version, platform: process.platform };
  const figuresJson = figures.map((f) => ({
    name: f.name,
    database: f.database,
    value: Number(f.value.toFixed(4)),
    unit: f.unit,
    floor_ratio: f.floorRatio === undefined ? null : Number(f.floorRatio.toFixed(3)),
    goal: f.goal ? { text: f.goal.text, met: f.goal.met } : null,
  }));
  writeFileSync(path, `${JSON.stringify({ at: new Date().toISOString(), quick: options.quick, machine, figures: figuresJson }, null, 2)}\n`);
}
