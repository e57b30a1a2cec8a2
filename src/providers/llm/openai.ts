import { setTimeout as sleep } from 'node:timers/promises';
import type OpenAI from 'openai';
import { LlmCallError, MAX_RETRY_AFTER_MS, type CallOptions, type LlmProvider, type LlmReply, type LlmRequest, type LlmUsage } from '../../core/llm.js';
import { abortedCall } from './aborted.js';
import { cachedModelList } from './model-list.js';
import { responseFormatFor } from './response-format.js';

/** How long a provider's model list is trusted before it is fetched again. */
export const MODEL_LIST_TTL_MS = 60_000;
/** The model list is a convenience: it never holds a run's start up for long. */
const MODEL_LIST_TIMEOUT_MS = 5_000;

export interface OpenAiOptions {
  readonly baseUrl: string;
  readonly apiKey: string | undefined;
  /** Per-request timeout. */
  readonly timeoutMs: number;
  /** Tries per call for 429, 5xx, timeouts and network errors; other 4xx are never retried. */
  readonly maxTries: number;
  /** First backoff; doubled per retry (with jitter), unless the server sends Retry-After. */
  readonly backoffMs?: number;
  /** Longest Retry-After honoured (default MAX_RETRY_AFTER_MS), so that a server cannot park a call for an hour. */
  readonly maxRetryAfterMs?: number;
  /** How long the model list is cached (default MODEL_LIST_TTL_MS). */
  readonly modelListTtlMs?: number;
}

/**
 * `openai:<model>` — the OpenAI chat-completions protocol at OPENAI_BASE_URL: the public API,
 * vLLM, Ollama, llama.cpp, LM Studio… The client's own retries are off: this loop retries
 * so that every try is counted and Retry-After is honoured. The step's output decides
 * `response_format` (response-format.ts); a reply cut off at max_tokens is an error, never
 * parsed; `GET /models` tells which model names exist, when the server can list them.
 */
export function openAiProvider(options: OpenAiOptions): LlmProvider {
  // The client library is loaded at the first call: a server or CLI whose steps use no
  // `openai:` model never pays for it (it is the largest module tree stepgate has).
  let loaded: Promise<{ OpenAI: typeof OpenAI; client: OpenAI }> | undefined;
  const load = () =>
    (loaded ??= import('openai').then(({ default: OpenAIClient }) => ({
      OpenAI: OpenAIClient,
      client: new OpenAIClient({
        baseURL: options.baseUrl,
        // Local servers need no key; the client insists on one.
        apiKey: options.apiKey ?? 'not-set',
        timeout: options.timeoutMs,
        maxRetries: 0,
      }),
    })));
  const backoffMs = options.backoffMs ?? 500;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? MAX_RETRY_AFTER_MS;
  const knownModels = cachedModelList(async () => {
    try {
      const { client } = await load();
      const page = await client.models.list({ timeout: Math.min(options.timeoutMs, MODEL_LIST_TIMEOUT_MS) });
      return page.data.map((model) => model.id);
    } catch {
      return undefined; // 404, 401, unreachable…: the server cannot tell, so nothing is checked
    }
  }, options.modelListTtlMs ?? MODEL_LIST_TTL_MS);

  return {
    name: 'openai',
    knownModels,
    async complete(request: LlmRequest, callOptions?: CallOptions): Promise<LlmReply> {
      const signal = callOptions?.signal;
      const responseFormat = responseFormatFor(request);
      const requestBody: Record<string, unknown> = {
        ...(responseFormat ? { response_format: responseFormat } : {}),
        ...request.params,
        model: request.model,
        messages: request.messages.map((m) => ({ ...m })),
      };
      const { OpenAI: library, client } = await load();
      for (let tries = 1; ; tries++) {
        if (signal?.aborted) throw abortedCall(requestBody, tries - 1);
        try {
          const completion = await client.chat.completions.create(requestBody as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming, { signal });
          const choice = completion.choices[0];
          const usage = usageOf(completion.usage);
          if (choice?.finish_reason === 'length') {
            const limit = typeof requestBody.max_tokens === 'number' ? ` (${requestBody.max_tokens})` : typeof requestBody.max_completion_tokens === 'number' ? ` (${requestBody.max_completion_tokens})` : '';
            throw new LlmCallError(
              `the reply was cut off at max_tokens${limit} (finish_reason: length) after ${usage?.completion_tokens ?? 'an unknown number of'} tokens, so it was not used; raise the step's params.max_tokens or ask for a shorter reply`,
              { kind: 'truncated', requestBody, responseBody: completion, tries, usage },
            );
          }
          const text = choice?.message?.content;
          if (typeof text !== 'string') {
            throw new LlmCallError('the reply has no message content', { kind: 'provider', requestBody, responseBody: completion, tries, usage });
          }
          return { text, requestBody, responseBody: completion, usage, tries };
        } catch (err) {
          if (err instanceof LlmCallError) throw err;
          if (signal?.aborted) throw abortedCall(requestBody, tries);
          const failure = describeFailure(library, err, requestBody, tries);
          if (!failure.retryable || tries >= options.maxTries) throw failure.error;
          const wait = failure.retryAfterMs ?? backoffMs * 2 ** (tries - 1) * (0.75 + Math.random() / 2);
          await sleep(Math.min(wait, maxRetryAfterMs), undefined, { signal }).catch(() => {}); // aborted: the loop's first line says so
        }
      }
    },
  };
}

function usageOf(usage: OpenAI.CompletionUsage | undefined): LlmUsage | null {
  return usage ? { prompt_tokens: usage.prompt_tokens ?? null, completion_tokens: usage.completion_tokens ?? null, total_tokens: usage.total_tokens ?? null } : null;
}

function describeFailure(library: typeof OpenAI, err: unknown, requestBody: unknown, tries: number): { error: LlmCallError; retryable: boolean; retryAfterMs?: number | undefined } {
  if (err instanceof library.APIConnectionTimeoutError) {
    return { error: new LlmCallError(`the request timed out after ${tries} tr${tries === 1 ? 'y' : 'ies'}`, { kind: 'timeout', requestBody, tries }), retryable: true };
  }
  if (err instanceof library.APIConnectionError) {
    return {
      error: new LlmCallError(`cannot reach the provider: ${err.message}${err.cause ? ` (${(err.cause as Error).message})` : ''}`, { kind: 'network', requestBody, tries }),
      retryable: true,
    };
  }
  if (err instanceof library.APIError && err.status !== undefined) {
    const status = err.status;
    const retryable = status === 429 || status === 408 || status >= 500;
    const error = new LlmCallError(`the provider answered HTTP ${status}: ${err.message}`, {
      kind: 'http',
      requestBody,
      responseBody: err.error ?? null,
      status,
      tries,
    });
    return { error, retryable, retryAfterMs: retryAfter(err.headers) };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { error: new LlmCallError(`the provider call failed: ${message}`, { kind: 'provider', requestBody, tries }), retryable: false };
}

/** Retry-After in seconds or as an HTTP date, in milliseconds. */
function retryAfter(headers: Headers | undefined): number | undefined {
  const ms = headers?.get('retry-after-ms');
  if (ms && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const value = headers?.get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
