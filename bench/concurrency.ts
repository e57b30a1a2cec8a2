import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLatencyLlm, type LatencyLlm } from '../test/support/latency-llm.js';
import { startServer, type ServerProcess } from '../test/support/server-process.js';
import type { BenchDatabase } from './databases.js';
import type { Measurement } from './report.js';
import { median } from './stats.js';

/**
 * What users feel (SPEC §15): the wall time of a run against its critical path of LLM calls,
 * over HTTP against `stepgate serve`, with a local OpenAI-compatible server that answers each
 * call after the latency its model name says (`openai:lat-200`). Each figure is reported
 * beside the serial time (the sum of the latencies) and beside the same run one step at a
 * time (STEPGATE_MAX_PARALLEL_STEPS=1: the runner before steps ran concurrently).
 */

interface Shape {
  readonly label: string;
  readonly manifest: unknown;
  /** The longest chain of calls, in ms. */
  readonly criticalMs: number;
  /** Every call's latency summed: what a serial runner takes. */
  readonly serialMs: number;
  readonly calls: number;
  /** Calls in flight at the peak when the run goes as fast as it can. */
  readonly peak: number;
  /** The run's inputs, besides `topic`. */
  readonly inputs?: Record<string, unknown>;
}

function fanOut(k: number, ms: number): Shape {
  const sections = Array.from({ length: k }, (_, i) => `s${i + 1}`);
  return {
    label: `plan → ${k} → merge at ${ms} ms a call`,
    manifest: {
      name: `bench-fan-out-${k}`,
      steps: [
        { key: 'plan', model: `openai:lat-${ms}`, prompt: 'plan {{inputs.topic}}' },
        ...sections.map((key) => ({ key, depends_on: ['plan'], model: `openai:lat-${ms}`, prompt: `${key} of {{steps.plan.output}}` })),
        { key: 'merge', depends_on: sections, model: `openai:lat-${ms}`, prompt: 'merge' },
      ],
    },
    criticalMs: 3 * ms,
    serialMs: (k + 2) * ms,
    calls: k + 2,
    peak: k,
  };
}

/** plan → {a 100 ms → b 100 ms, c 300 ms} → merge: a superstep engine pays plan + 300 + 100 + merge. */
const UNEVEN: Shape = {
  label: 'plan → {a 100 → b 100, c 300} → merge (100 ms each)',
  manifest: {
    name: 'bench-uneven',
    steps: [
      { key: 'plan', model: 'openai:lat-100', prompt: 'plan {{inputs.topic}}' },
      { key: 'a', depends_on: ['plan'], model: 'openai:lat-100', prompt: 'a' },
      { key: 'b', depends_on: ['a'], model: 'openai:lat-100', prompt: 'b' },
      { key: 'c', depends_on: ['plan'], model: 'openai:lat-300', prompt: 'c' },
      { key: 'merge', depends_on: ['b', 'c'], model: 'openai:lat-100', prompt: 'merge' },
    ],
  },
  criticalMs: 500,
  serialMs: 700,
  calls: 5,
  peak: 2,
};

/** A map step over 200 items through a provider whose max_concurrency is 50 (the providers file's `limited`). */
const MAP_200: Shape = {
  label: 'map step over 200 items at 200 ms a call, 50 at once',
  manifest: { name: 'bench-map-200', steps: [{ key: 'M', for_each: 'inputs.docs', model: 'limited:lat-200', prompt: 'summarize {{item}}' }] },
  inputs: { docs: Array.from({ length: 200 }, (_, i) => `doc-${i}`) },
  criticalMs: 800,
  serialMs: 40_000,
  calls: 200,
  peak: 50,
};

const within = (factor: number, of: number) => ({ text: `≤ ${factor} × ${of} ms`, meets: (v: number) => v <= factor * of });

export async function concurrencyBenchmarks(db: BenchDatabase, quick: boolean): Promise<Measurement[]> {
  const llm = await startLatencyLlm();
  const figures: Measurement[] = [];
  const database = db.name;
  try {
    const concurrent = await benchServer(db, llm, 64);
    try {
      for (const shape of [fanOut(5, 200), fanOut(50, 200), UNEVEN]) {
        const wall = await wallTimes(concurrent, llm, shape, quick ? 3 : 7);
        figures.push({ name: `${shape.label}: wall time (critical path ${shape.criticalMs} ms, serial ${shape.serialMs} ms)`, database, value: wall.median, unit: 'ms', goal: within(1.1, shape.criticalMs) });
        figures.push({ name: `${shape.label}: calls per run`, database, value: wall.calls, unit: 'calls', goal: { text: `= ${shape.calls}`, meets: (v) => v === shape.calls } });
        figures.push({ name: `${shape.label}: calls in flight at the peak`, database, value: wall.peak, unit: 'calls', goal: { text: `= ${shape.peak}`, meets: (v) => v === shape.peak } });
      }
      // 20 runs of the K = 5 shape started at once: 100 calls in flight at the peak.
      const shape = fanOut(5, 200);
      const manifestId = await concurrent.manifest(shape.manifest);
      await concurrent.run(manifestId, 'warm-up');
      const rates: number[] = [];
      for (let i = 0; i < (quick ? 2 : 5); i++) {
        const began = performance.now();
        const runs = await Promise.all(Array.from({ length: 20 }, (_, j) => concurrent.run(manifestId, `many-${i}-${j}`)));
        if (runs.some((status) => status !== 'success')) throw new Error(`20 concurrent runs: ${runs.join(', ')}`);
        rates.push(20 / ((performance.now() - began) / 1000));
      }
      figures.push({ name: '20 concurrent runs of plan → 5 → merge at 200 ms a call', database, value: median(rates), unit: 'runs/s', goal: { text: '≥ 30 runs/s', meets: (v) => v >= 30 } });

      // A map step over 200 items at 200 ms a call, through a provider limited to 50 calls at once: four waves.
      const map = await wallTimes(concurrent, llm, MAP_200, quick ? 2 : 5);
      figures.push({ name: `${MAP_200.label}: wall time (4 waves of 200 ms, serial 40,000 ms)`, database, value: map.median, unit: 'ms', goal: within(1.1, 4 * 200) });
      figures.push({ name: `${MAP_200.label}: calls in flight at the peak`, database, value: map.peak, unit: 'calls', goal: { text: '= 50', meets: (v) => v === 50 } });
    } finally {
      await concurrent.stop();
    }

    // The same shapes one step at a time: the runner before steps ran concurrently.
    const serial = await benchServer(db, llm, 1);
    try {
      for (const shape of quick ? [fanOut(5, 200), UNEVEN] : [fanOut(5, 200), fanOut(50, 200), UNEVEN]) {
        const wall = await wallTimes(serial, llm, shape, quick ? 1 : 3);
        figures.push({ name: `${shape.label}: wall time one step at a time (before §15)`, database, value: wall.median, unit: 'ms' });
      }
    } finally {
      await serial.stop();
    }
  } finally {
    await llm.close();
  }
  return figures;
}

interface BenchServer {
  manifest(manifest: unknown): Promise<string>;
  /** Starts a run and answers its final status once POST /api/runs answered (the run executes inside it). */
  run(manifestId: string, topic: string, inputs?: Record<string, unknown>): Promise<string>;
  stop(): Promise<void>;
}

/** `stepgate serve` (the build) on the benchmark's database, its `openai` provider pointed at the latency server. */
async function benchServer(db: BenchDatabase, llm: LatencyLlm, maxParallelSteps: number): Promise<BenchServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'stepgate-bench-concurrency-'));
  const providersFile = join(dataDir, 'stepgate.providers.yaml');
  // The benchmark raises the limits it needs: 20 runs of 5 sections are 100 calls in flight.
  writeFileSync(
    providersFile,
    `providers:\n  openai: { kind: openai, base_url: "${llm.baseUrl}", max_concurrency: 1000, max_tries: 1 }\n  limited: { kind: openai, base_url: "${llm.baseUrl}", max_concurrency: 50, max_tries: 1 }\n`,
  );
  const env = {
    ...(db.url ? { DATABASE_URL: db.url } : { STEPGATE_EMBEDDED: 'pglite' }),
    STEPGATE_DATA_DIR: dataDir,
    STEPGATE_PROVIDERS_FILE: providersFile,
    STEPGATE_MAX_PARALLEL_STEPS: String(maxParallelSteps),
    LOG_LEVEL: 'warn',
    // What is measured is the runner against its LLM calls (authentication's cost is measured in the HTTP figures).
    STEPGATE_AUTH: 'off',
    STEPGATE_RATE_LIMIT_PER_TOKEN: '1000000000',
    STEPGATE_RATE_LIMIT_PER_ADDRESS: '1000000000',
  };
  const server: ServerProcess = await startServer(env, { built: true });
  const headers = { 'content-type': 'application/json' };
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${server.baseUrl}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
    const json = (await response.json()) as { id: string; status: string };
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${JSON.stringify(json)}`);
    return json;
  };
  return {
    manifest: async (manifest) => (await post('/api/manifests', manifest)).id,
    run: async (manifestId, topic, inputs = {}) => (await post('/api/runs', { manifest_id: manifestId, inputs: { ...inputs, topic } })).status,
    async stop() {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Runs `shape` `times` times, one after the other: the median wall time, and the calls and peak of one run. */
async function wallTimes(server: BenchServer, llm: LatencyLlm, shape: Shape, times: number) {
  const manifestId = await server.manifest(shape.manifest);
  await server.run(manifestId, 'warm-up', shape.inputs);
  const walls: number[] = [];
  let calls = 0;
  let peak = 0;
  for (let i = 0; i < times; i++) {
    llm.reset();
    const began = performance.now();
    const status = await server.run(manifestId, `t${i}`, shape.inputs);
    walls.push(performance.now() - began);
    if (status !== 'success') throw new Error(`${shape.label}: the run ended ${status}`);
    calls = llm.calls.length;
    peak = llm.peakInFlight;
  }
  return { median: median(walls), calls, peak };
}
