import { styleText } from 'node:util';

/** Human output: colours only on a terminal (and never with NO_COLOR); --json prints data only. */
export interface Output {
  readonly json: boolean;
  readonly tty: boolean;
  line(text?: string): void;
  data(value: unknown): void;
  style(format: Parameters<typeof styleText>[0], text: string): string;
}

export function createOutput(options: { json: boolean }): Output {
  const tty = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
  return {
    json: options.json,
    tty,
    line(text = '') {
      process.stdout.write(`${text}\n`);
    },
    data(value) {
      process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    },
    style(format, text) {
      return tty ? styleText(format, text) : text;
    },
  };
}

const STATUS_STYLE: Record<string, Parameters<typeof styleText>[0]> = {
  SUCCESS: 'green',
  success: 'green',
  FAIL: 'red',
  error: 'red',
  CANCELLED: 'gray',
  WAITING_FOR_ATTESTATION: 'yellow',
  waiting: 'yellow',
  RUNNING: 'cyan',
  running: 'cyan',
};

export function status(out: Output, value: string): string {
  return out.style(STATUS_STYLE[value] ?? 'white', value);
}

export function duration(startedAt: string | null, endedAt: string | null): string {
  if (!startedAt || !endedAt) return '';
  const ms = Date.parse(endedAt) - Date.parse(startedAt);
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** A plain table: columns padded to their widest cell. */
export function table(rows: string[][]): string {
  const width = (cell: string) => cell.replace(/\u001b\[[0-9;]*m/g, '').length;
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => width(row[i] ?? '')))) ?? [];
  return rows.map((row) => row.map((cell, i) => cell + ' '.repeat(Math.max(0, widths[i]! - width(cell)))).join('  ').trimEnd()).join('\n');
}
