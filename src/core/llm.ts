/**
 * The LLM port. A provider turns one request into one reply; `llm_complete()` (engine) picks
 * the provider from the step's `model: "provider:model"` and times the call.
 */

/** The longest wait between two tries of one call, whatever a server's Retry-After says. */
export const MAX_RETRY_AFTER_MS = 30_000;

/** Calls one provider may have in flight per process when its configuration names no limit (SPEC §16). */
export const DEFAULT_PROVIDER_CONCURRENCY = 16;

export interface LlmMessage {
  readonly role: 'system' | 'user' | 'assistant';
  readonly content: string;
}

export interface LlmRequest {
  /** The step asking (names the JSON Schema sent as `response_format`). */
  readonly stepKey: string;
  /** The model name after "provider:". */
  readonly model: string;
  readonly messages: readonly LlmMessage[];
  /** The step's `params`, passed to the provider as is. */
  readonly params: Readonly<Record<string, unknown>>;
  /** What the step expects back; the offline provider shapes its reply by it. */
  readonly output: { readonly format: 'text' | 'json'; readonly schema?: Readonly<Record<string, unknown>> | undefined };
}

export interface LlmUsage {
  readonly prompt_tokens: number | null;
  readonly completion_tokens: number | null;
  readonly total_tokens: number | null;
}

export interface LlmReply {
  readonly text: string;
  /** What went over the wire (or would have, for offline). */
  readonly requestBody: unknown;
  readonly responseBody: unknown;
  readonly usage: LlmUsage | null;
  /** How many HTTP requests it took (retries included). */
  readonly tries: number;
}

/** A call that produced no usable reply; carries what evidence there is. */
export class LlmCallError extends Error {
  /**
   * `truncated`: the provider stopped at max_tokens (`finish_reason: length`); the reply is not used.
   * `aborted`: the caller's signal ended the call (the run was cancelled while it was in flight).
   */
  readonly kind: 'timeout' | 'http' | 'network' | 'provider' | 'truncated' | 'aborted';
  readonly requestBody: unknown;
  readonly responseBody: unknown;
  readonly status: number | undefined;
  readonly tries: number;
  /** Tokens the provider reports for a reply it did send (a truncated one), else null. */
  readonly usage: LlmUsage | null;
  constructor(
    message: string,
    details: { kind: LlmCallError['kind']; requestBody: unknown; responseBody?: unknown; status?: number | undefined; tries: number; usage?: LlmUsage | null },
  ) {
    super(message);
    this.name = 'LlmCallError';
    this.kind = details.kind;
    this.requestBody = details.requestBody;
    this.responseBody = details.responseBody ?? null;
    this.status = details.status;
    this.tries = details.tries;
    this.usage = details.usage ?? null;
  }
}

/** How one call is made: a signal that aborts it (the run was cancelled), honoured by every adapter. */
export interface CallOptions {
  readonly signal?: AbortSignal | undefined;
}

/** What `GET /api/providers` shows of a provider: how it is reached — never its key. */
export interface ProviderInfo {
  readonly kind: 'offline' | 'openai' | 'anthropic';
  /** Where its requests go; null for offline. */
  readonly baseUrl: string | null;
  /** The environment variable its key is read from (a name, never the key); null when it takes none. */
  readonly apiKeyEnv: string | null;
  /** Whether that variable held a key when the server started. */
  readonly keySet: boolean;
}

export interface LlmProvider {
  /** The name a manifest's `model: "<name>:<model>"` uses (built in, or from the providers file). */
  readonly name: string;
  /** Calls in flight at once per process (default DEFAULT_PROVIDER_CONCURRENCY); further calls queue. */
  readonly maxConcurrency?: number | undefined;
  readonly info?: ProviderInfo | undefined;
  /**
   * One call. Aborted through `options.signal`: the request is cut off (no further try, no
   * backoff wait) and the call rejects with an LlmCallError of kind `aborted`.
   */
  complete(request: LlmRequest, options?: CallOptions): Promise<LlmReply>;
  /**
   * The model names the provider serves, or undefined when it cannot tell (no such endpoint,
   * unreachable): then model names are not checked before a run starts.
   */
  knownModels?(): Promise<readonly string[] | undefined>;
  /**
   * The models to show an operator (`GET /api/providers`), or undefined when the provider
   * cannot list them. Unlike knownModels, a model missing here is not refused (Anthropic
   * lists dated ids, and a manifest may name an alias).
   */
  listModels?(): Promise<readonly string[] | undefined>;
}

/** `"openai:gpt-4o-mini"` → `{ provider: "openai", model: "gpt-4o-mini" }` */
export function splitModel(model: string): { provider: string; model: string } {
  const colon = model.indexOf(':');
  return { provider: model.slice(0, colon), model: model.slice(colon + 1) };
}
