import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { LlmCallMetric, Metrics } from '../core/metrics.js';

/**
 * The Prometheus side of the metrics port, in a registry of its own (never prom-client's
 * global one, so that a process — or a test — can build several apps). `GET /metrics` serves
 * `registry.metrics()`; the README lists every metric.
 */
export interface PrometheusMetrics extends Metrics {
  readonly registry: Registry;
  httpRequest(method: string, route: string, status: number, seconds: number): void;
  /** Where the stalled-runs gauge reads its value at scrape time. */
  countStalledRunsWith(count: () => Promise<number>): void;
}

/** Distinct provider:model labels kept; beyond it, `model="other"` (a manifest names models freely). */
const MAX_MODELS = 100;

export function createPrometheusMetrics(options: { processMetrics?: boolean } = {}): PrometheusMetrics {
  const registry = new Registry();
  const registers = [registry];
  if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'stepgate_' });
  const http = new Histogram({
    name: 'stepgate_http_request_duration_seconds',
    help: 'HTTP requests by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });
  const transitions = new Counter({ name: 'stepgate_transitions_total', help: 'Run and step-run transitions by kind.', labelNames: ['kind'] as const, registers });
  const attestations = new Counter({ name: 'stepgate_attestations_total', help: 'Attestations recorded, by outcome.', labelNames: ['outcome'] as const, registers });
  const llmCalls = new Counter({ name: 'stepgate_llm_calls_total', help: 'LLM calls by provider, model and outcome (success, error).', labelNames: ['provider', 'model', 'outcome'] as const, registers });
  const llmSeconds = new Histogram({
    name: 'stepgate_llm_call_duration_seconds',
    help: 'LLM call latency (retries included) by provider and model.',
    labelNames: ['provider', 'model'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers,
  });
  const llmTokens = new Counter({ name: 'stepgate_llm_tokens_total', help: 'Tokens the providers reported, by provider, model and kind (prompt, completion).', labelNames: ['provider', 'model', 'kind'] as const, registers });
  let stalledRuns: (() => Promise<number>) | undefined;
  new Gauge({
    name: 'stepgate_stalled_runs',
    help: 'Runs left running by a process whose lease expired (a resume recovers them); read from the database at scrape time.',
    registers,
    async collect() {
      if (!stalledRuns) return;
      // A database that does not answer must not break the scrape: the gauge says NaN.
      this.set(await stalledRuns().catch(() => Number.NaN));
    },
  });
  const models = new Set<string>();
  const modelLabel = (provider: string, model: string) => {
    const key = `${provider}:${model}`;
    if (!models.has(key) && models.size >= MAX_MODELS) return 'other';
    models.add(key);
    return model;
  };
  return {
    registry,
    transition: (kind) => transitions.inc({ kind }),
    attestation: (outcome) => attestations.inc({ outcome }),
    llmCall(call: LlmCallMetric) {
      const labels = { provider: call.provider, model: modelLabel(call.provider, call.model) };
      llmCalls.inc({ ...labels, outcome: call.outcome });
      llmSeconds.observe(labels, call.seconds);
      if (call.promptTokens) llmTokens.inc({ ...labels, kind: 'prompt' }, call.promptTokens);
      if (call.completionTokens) llmTokens.inc({ ...labels, kind: 'completion' }, call.completionTokens);
    },
    httpRequest: (method, route, status, seconds) => http.observe({ method, route, status_code: String(status) }, seconds),
    countStalledRunsWith(count) {
      stalledRuns = count;
    },
  };
}
