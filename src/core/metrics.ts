/**
 * The metrics port: what the engine and the providers report, whatever collects it
 * (http/metrics.ts implements it with prom-client). Every method is cheap and never throws.
 */
export interface Metrics {
  /** A run or step run moved (`run:waiting`, `step:SUCCESS`, … as the transitions module names them). */
  transition(kind: string): void;
  /** An attestation was recorded, with its outcome (SUCCESS or FAIL). */
  attestation(outcome: string): void;
  /** One LLM call, finished or failed, with its duration and the tokens the provider reported. */
  llmCall(call: LlmCallMetric): void;
}

export interface LlmCallMetric {
  readonly provider: string;
  readonly model: string;
  readonly outcome: 'success' | 'error';
  readonly seconds: number;
  readonly promptTokens: number | null;
  readonly completionTokens: number | null;
}
