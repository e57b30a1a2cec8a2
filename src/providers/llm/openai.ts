import type OpenAI from 'openai';
import { LlmCallError, type CallOptions, type LlmProvider, type LlmReply, type LlmRequest, type LlmUsage } from '../../core/llm.js';
import { cachedModelList } from './model-list.js';
import { responseFormatFor } from './response-format.js';
import { withTries, type TryPolicy } from './tries.js';

/** How long a provider's model list is trusted before it is fetched again. */
export const MODEL_LIST_TTL_MS = 60_000;
/** The model list is a convenience: it never holds a run's start up for long. */
const MODEL_LIST_TIMEOUT_MS = 5_000;

export interface OpenAiOptions extends TryPolicy {
  /** The provider's name in manifests (default "openai"; a providers-file entry has its own). */
  readonly name?: string | undefined;
  readonly baseUrl: string;
  readonly apiKey: string | undefined;
  /** The environment variable the key came from, for GET /api/providers (never the key). */
  readonly apiKeyEnv?: string | null | undefined;
  /** Per-request timeout. */
  readonly timeoutMs: number;
  /** Calls in flight at once per process (the runner's limiter reads it). */
  readonly maxConcurrency?: number | undefined;
  /** How long the model list is cached (default MODEL_LIST_TTL_MS). */
  readonly modelListTtlMs?: number | undefined;
}

/**
 * `openai:<model>` (and every `kind: openai` entry of the providers file) — the OpenAI
 * chat-completions protocol at its base URL: the public API, vLLM, Ollama, llama.cpp, LM
 * Studio, OpenRouter… Tries are counted by tries.ts. The step's output decides
 * `response_format` (response-format.ts); a system message, when the step has one, comes
 * first in `messages`; a reply cut off at max_tokens is an error, never parsed; `GET /models`
 * tells which model names exist, when the server can list them.
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
    name: options.name ?? 'openai',
    maxConcurrency: options.maxConcurrency,
    info: { kind: 'openai', baseUrl: options.baseUrl, apiKeyEnv: options.apiKeyEnv ?? null, keySet: options.apiKey !== undefined },
    knownModels,
    listModels: knownModels,
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
      return withTries(requestBody, options, library, signal, async (tries) => {
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
      });
    },
  };
}

function usageOf(usage: OpenAI.CompletionUsage | undefined): LlmUsage | null {
  return usage ? { prompt_tokens: usage.prompt_tokens ?? null, completion_tokens: usage.completion_tokens ?? null, total_tokens: usage.total_tokens ?? null } : null;
}
