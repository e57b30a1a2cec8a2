import ora, { type Ora } from 'ora';
import type { RunEvent } from './run-stream.js';
import { duration, status, type Output } from './output.js';

/**
 * What `run`, `resume` and `retry` show while the server works. On a terminal (and not
 * NO_COLOR): a spinner over one line per running step (several run at once) with its elapsed
 * time, each replaced by a ✓ / ✗ / ⏸ line with the step's duration once it ends. Elsewhere:
 * one plain line per event, for logs.
 */
export interface Progress {
  event(event: RunEvent): void;
  stop(): void;
}

/** Step key → step type (task, compute), from the manifest: the events name the key only. */
export type StepTypes = ReadonlyMap<string, string>;

export function createProgress(out: Output, types: StepTypes): Progress {
  // A terminal that reports no width (a pseudo-terminal nobody sized) cannot redraw a line.
  return out.tty && (process.stdout.columns ?? 0) > 0 ? spinnerProgress(out, types) : plainProgress(out, types);
}

/** The word for what happened, as the SPEC's statuses say it. */
const WORDS: Readonly<Record<string, string>> = {
  run_started: 'started',
  run_waiting: 'waiting',
  run_succeeded: 'success',
  run_failed: 'error',
  run_cancelled: 'cancelled',
  run_resumed: 'resumed',
  run_retried: 'retried',
  step_started: 'started',
  step_succeeded: 'SUCCESS',
  step_failed: 'FAIL',
  step_waiting: 'WAITING_FOR_ATTESTATION',
  step_attested: 'attested',
  step_cancelled: 'CANCELLED',
};

/**
 * Keeps each step run's start, so that the line of its end can say how long it took (from the
 * server's timestamps, not the client's clock).
 */
export class StepClock {
  private readonly started = new Map<string, string>();

  /** A step run that started before the events were followed (its `started_at`). */
  startedAt(stepRunId: string, at: string): void {
    this.started.set(stepRunId, at);
  }

  /** The duration of the step run this event ends, if its start was seen. */
  see(event: RunEvent): string {
    const key = event.step_run_id ?? '';
    if (event.kind === 'step_started') {
      this.started.set(key, event.at);
      return '';
    }
    const since = this.started.get(key);
    if (since === undefined || !/^step_(succeeded|failed|cancelled|waiting)$/.test(event.kind)) return '';
    this.started.delete(key);
    return duration(since, event.at);
  }
}

/** `A  task  SUCCESS  812 ms`, `run  waiting`: the columns of one event, without styling. */
export function eventColumns(event: RunEvent, types: StepTypes, took: string, style: (word: string) => string = (word) => word): string[] {
  const word = style(WORDS[event.kind] ?? event.kind);
  if (!event.step_key) return ['run', word];
  const type = event.step_type ?? types.get(event.step_key);
  return [
    event.item_index == null ? event.step_key : `${event.step_key}[${event.item_index}]`,
    ...(type ? [type] : []),
    word,
    ...(event.kind === 'step_attested' && event.status ? [style(event.status)] : []),
    ...(took ? [took] : []),
    ...(event.attempt && event.attempt > 1 ? [`attempt ${event.attempt}`] : []),
    ...(event.error?.message ? [event.error.message] : []),
  ];
}

function plainProgress(out: Output, types: StepTypes): Progress {
  const clock = new StepClock();
  return {
    event(event) {
      out.line(eventColumns(event, types, clock.see(event)).join('  '));
    },
    stop() {},
  };
}

const SYMBOLS: Readonly<Record<string, { symbol: string; style: 'green' | 'red' | 'yellow' | 'gray' }>> = {
  step_succeeded: { symbol: '✓', style: 'green' },
  step_failed: { symbol: '✗', style: 'red' },
  step_waiting: { symbol: '⏸', style: 'yellow' },
  step_cancelled: { symbol: '✗', style: 'gray' },
  step_attested: { symbol: '✓', style: 'gray' },
};

function spinnerProgress(out: Output, types: StepTypes): Progress {
  const clock = new StepClock();
  // Started here, on this machine's clock: the elapsed time ticks while the step runs.
  const running = new Map<string, { key: string; label: string; since: number; attempt: number }>();
  let spinner: Ora | undefined;
  let ticker: NodeJS.Timeout | undefined;

  const label = (step: { key: string; label: string }) => [step.label, types.get(step.key)].filter(Boolean).join('  ');
  const render = () => {
    if (running.size === 0) {
      spinner?.stop();
      if (ticker) clearInterval(ticker);
      ticker = undefined;
      return;
    }
    const now = Date.now();
    // One line per running step (steps run concurrently), as many as the terminal has room for.
    const room = Math.max(2, Math.min(12, (process.stdout.rows ?? 24) - 2));
    const steps = [...running.values()];
    const shown = steps.length > room ? steps.slice(0, room - 1) : steps;
    const lines = shown.map((step) => `${label(step)}  ${out.style('gray', elapsed(now - step.since))}${step.attempt > 1 ? `  attempt ${step.attempt}` : ''}`);
    if (shown.length < steps.length) lines.push(out.style('gray', `and ${steps.length - shown.length} more running`));
    const text = lines.join('\n  ');
    // Ora draws the frames and clears its line; it writes to stdout, where the summary follows.
    spinner ??= ora({ stream: process.stdout, isEnabled: true, discardStdin: false, color: 'cyan' });
    spinner.text = text;
    if (!spinner.isSpinning) spinner.start();
    ticker ??= setInterval(render, 100);
  };

  return {
    event(event) {
      const took = clock.see(event);
      if (event.kind === 'step_started' && event.step_key && event.step_run_id) {
        running.set(event.step_run_id, { key: event.step_key, label: event.item_index == null ? event.step_key : `${event.step_key}[${event.item_index}]`, since: Date.now(), attempt: event.attempt ?? 1 });
        render();
        return;
      }
      const shown = SYMBOLS[event.kind];
      if (!shown) return; // run events: the summary below says where the run stands
      if (event.step_run_id) running.delete(event.step_run_id);
      spinner ??= ora({ stream: process.stdout, isEnabled: true, discardStdin: false });
      const [key, ...rest] = eventColumns(event, types, took, (word) => status(out, word));
      spinner.stopAndPersist({ symbol: out.style(shown.style, shown.symbol), text: [out.style('bold', key!), ...rest].join('  ') });
      render();
    },
    stop() {
      running.clear();
      render();
    },
  };
}

function elapsed(ms: number): string {
  return ms < 1000 ? `${Math.max(0, ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
