/**
 * The LLM port. A provider turns one request into one reply; `llm_complete()` (engine) picks
 * the provider from the step's `model: "provider:model"` and times the call.
 */

/** The longest wait between two tries of one call, whatever a server's Retry-After says. */
export const MAX_RETRY_AFTER_MS = 30_000;

export interface LlmMessage {
  readonly role: 'system' | 'user' | 'assistant';
  readonly content: string;
}

export interface LlmRequest {
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
  readonly kind: 'timeout' | 'http' | 'network' | 'provider';
  readonly requestBody: unknown;
  readonly responseBody: unknown;
  readonly status: number | undefined;
  readonly tries: number;
  constructor(
    message: string,
    details: { kind: LlmCallError['kind']; requestBody: unknown; responseBody?: unknown; status?: number | undefined; tries: number },
  ) {
    super(message);
    this.name = 'LlmCallError';
    this.kind = details.kind;
    this.requestBody = details.requestBody;
    this.responseBody = details.responseBody ?? null;
    this.status = details.status;
    this.tries = details.tries;
  }
}

export interface LlmProvider {
  readonly name: string;
  complete(request: LlmRequest): Promise<LlmReply>;
}

/** `"openai:gpt-4o-mini"` → `{ provider: "openai", model: "gpt-4o-mini" }` */
export function splitModel(model: string): { provider: string; model: string } {
  const colon = model.indexOf(':');
  return { provider: model.slice(0, colon), model: model.slice(colon + 1) };
}
