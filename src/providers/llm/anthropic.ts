import type Anthropic from '@anthropic-ai/sdk';
import type { jsonSchemaOutputFormat } from '@anthropic-ai/sdk/helpers/json-schema';
import { LlmCallError, type CallOptions, type LlmProvider, type LlmReply, type LlmRequest, type LlmUsage } from '../../core/llm.js';
import { cachedModelList } from './model-list.js';
import { MODEL_LIST_TTL_MS } from './openai.js';
import { withTries, type TryPolicy } from './tries.js';

/**
 * `max_tokens` when the step's `params` name none: the Messages API requires one. Enough for a
 * page-long memo; a reply that reaches it fails the step as truncated (raise
 * `params.max_tokens` for longer replies: the model's own ceiling is the limit).
 */
export const DEFAULT_ANTHROPIC_MAX_TOKENS = 4096;

/** The model list is a convenience: it never holds a request up for long. */
const MODEL_LIST_TIMEOUT_MS = 5_000;
/** The largest page the Models API serves; a provider with more models shows the first ones. */
const MODEL_LIST_PAGE = 1000;
/** Evidence of a body that is not JSON keeps at most this much of it. */
const RAW_BODY_KEPT = 16_384;

export interface AnthropicOptions extends TryPolicy {
  /** The provider's name in manifests (default "anthropic"; a providers-file entry has its own). */
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
 * `anthropic:<model>` (and every `kind: anthropic` entry of the providers file) — Anthropic's
 * Messages API through its official SDK. The recorded request and response are the API's own:
 * the step's system message goes to the top-level `system`, `max_tokens` comes from `params`
 * (default DEFAULT_ANTHROPIC_MAX_TOKENS), and JSON output with a schema is enforced by the
 * API's native structured output (`output_config.format`, see outputConfigFor). A reply that
 * stopped at `max_tokens` fails as truncated; 429, 529 and other 5xx are retried (Retry-After
 * honoured), other 4xx are not (tries.ts).
 *
 * The SDK is given everything explicitly — base URL, key, no retries, no logging — so that it
 * reads none of its own environment variables (ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN,
 * ANTHROPIC_LOG) nor credential files: a named provider uses the key its `api_key_env` names,
 * and nothing else.
 */
export function anthropicProvider(options: AnthropicOptions): LlmProvider {
  // Loaded at the first call, as the openai library is: steps that use no Anthropic model never pay for it.
  let loaded: Promise<{ library: typeof Anthropic; client: Anthropic; outputFormat: typeof jsonSchemaOutputFormat }> | undefined;
  const load = () =>
    (loaded ??= Promise.all([import('@anthropic-ai/sdk'), import('@anthropic-ai/sdk/helpers/json-schema')]).then(([{ default: AnthropicClient }, helpers]) => ({
      library: AnthropicClient,
      client: new AnthropicClient({
        baseURL: options.baseUrl,
        // An explicit key keeps the SDK from looking for one elsewhere. A server that needs
        // none (a local one) ignores it; the public API answers 401.
        apiKey: options.apiKey ?? 'not-set',
        timeout: options.timeoutMs,
        maxRetries: 0,
        logLevel: 'off',
      }),
      outputFormat: helpers.jsonSchemaOutputFormat,
    })));
  const listModels = cachedModelList(async () => {
    try {
      const { client } = await load();
      const page = await client.models.list({ limit: MODEL_LIST_PAGE }, { timeout: Math.min(options.timeoutMs, MODEL_LIST_TIMEOUT_MS) });
      return page.data.map((model) => model.id);
    } catch {
      return undefined;
    }
  }, options.modelListTtlMs ?? MODEL_LIST_TTL_MS);

  return {
    name: options.name ?? 'anthropic',
    maxConcurrency: options.maxConcurrency,
    info: { kind: 'anthropic', baseUrl: options.baseUrl, apiKeyEnv: options.apiKeyEnv ?? null, keySet: options.apiKey !== undefined },
    // No knownModels: the Models API lists dated ids, and a manifest may name an alias
    // (claude-sonnet-4-5); an unknown model is the API's 404, which fails the step.
    listModels,
    async complete(request: LlmRequest, callOptions?: CallOptions): Promise<LlmReply> {
      const signal = callOptions?.signal;
      const { library, client, outputFormat } = await load();
      const { requestBody, unwrap } = messagesRequest(request, outputFormat);
      return withTries(requestBody, options, library, signal, async (tries) => {
        const response = await client.messages.create(requestBody as unknown as Anthropic.MessageCreateParamsNonStreaming, { signal }).asResponse();
        const raw = await response.text();
        let message: Anthropic.Message;
        try {
          message = JSON.parse(raw) as Anthropic.Message;
        } catch {
          const responseBody = { status: response.status, content_type: response.headers.get('content-type'), body: raw.slice(0, RAW_BODY_KEPT) };
          throw new LlmCallError(`the provider answered HTTP ${response.status} with a body that is not JSON (${raw.length} characters), so there is no reply to use`, {
            kind: 'provider',
            requestBody,
            responseBody,
            tries,
          });
        }
        if (typeof message !== 'object' || message === null || !Array.isArray(message.content)) {
          throw new LlmCallError('the reply is not a Messages API message (it has no content list)', { kind: 'provider', requestBody, responseBody: message, tries });
        }
        const usage = usageOf(message.usage);
        const truncated = truncation(message, requestBody);
        if (truncated) throw new LlmCallError(truncated, { kind: 'truncated', requestBody, responseBody: message, tries, usage });
        if (message.stop_reason === 'refusal') {
          throw new LlmCallError('the model declined to answer (stop_reason: refusal), so there is no reply to use', { kind: 'provider', requestBody, responseBody: message, tries, usage });
        }
        const texts = message.content.flatMap((block) => (block.type === 'text' && typeof block.text === 'string' ? [block.text] : []));
        if (texts.length === 0) {
          throw new LlmCallError(`the reply has no text (stop_reason: ${String(message.stop_reason)})`, { kind: 'provider', requestBody, responseBody: message, tries, usage });
        }
        return { text: unwrap(texts.join('')), requestBody, responseBody: message, usage, tries };
      });
    },
  };
}

type OutputFormat = (schema: Record<string, unknown> & { type: 'object' }) => { type: 'json_schema'; schema: Record<string, unknown> };

/** The Messages API request for a step, and how to read its JSON reply back. */
export function messagesRequest(request: LlmRequest, outputFormat: OutputFormat): { requestBody: Record<string, unknown>; unwrap: (text: string) => string } {
  const system = request.messages.filter((m) => m.role === 'system').map((m) => m.content);
  const messages = request.messages.filter((m) => m.role !== 'system').map((m) => ({ role: m.role, content: m.content }));
  const format = outputConfigFor(request, outputFormat);
  const params = request.params;
  const ownConfig = params.output_config;
  // A step's own output_config (say `effort`) is kept; its `format`, if any, wins over ours.
  const outputConfig = format ? { format: format.format, ...(isObject(ownConfig) ? ownConfig : {}) } : ownConfig;
  const requestBody: Record<string, unknown> = {
    max_tokens: DEFAULT_ANTHROPIC_MAX_TOKENS,
    ...params,
    ...(outputConfig === undefined ? {} : { output_config: outputConfig }),
    model: request.model,
    ...(system.length > 0 ? { system: system.join('\n\n') } : {}),
    messages,
  };
  const sentFormat = isObject(outputConfig) ? outputConfig.format : undefined;
  return { requestBody, unwrap: format?.wrapped && sentFormat === format.format ? unwrapValue : (text) => text };
}

/**
 * JSON output with a schema is enforced by the API itself: native structured output
 * (`output_config.format: { type: "json_schema", schema }`, constrained decoding), rather than
 * a forced tool whose `input_schema` is the step's schema. Why: the reply is the JSON text
 * itself (parsed and checked like every provider's), it is enforced (a tool's input is only
 * asked for, unless the tool is `strict`), and it works with extended thinking, which a
 * forced tool_choice does not. The schema goes through the SDK's own helper, which moves the
 * keywords the API does not enforce (minimum, pattern, …) into descriptions; stepgate still
 * checks the full schema on the reply. The API wants an object at the root: any other schema
 * is sent as the one property `value` of an object, and the reply unwrapped. `format: json`
 * without a schema has no API counterpart: the prompt asks, the reply is parsed as JSON.
 * Models before structured output (Claude 4.5) answer 400: set `params.output_config` to
 * override, or use a newer model.
 */
function outputConfigFor(request: LlmRequest, outputFormat: OutputFormat): { format: Record<string, unknown>; wrapped: boolean } | undefined {
  if (request.output.format !== 'json' || !request.output.schema) return undefined;
  const schema = request.output.schema;
  const wrapped = schema.type !== 'object';
  const root = (wrapped ? { type: 'object', properties: { value: schema }, required: ['value'], additionalProperties: false } : schema) as Record<string, unknown> & { type: 'object' };
  try {
    const { type, schema: sent } = outputFormat(root);
    return { format: { type, schema: sent }, wrapped };
  } catch {
    // A schema the helper cannot rewrite (a node without a type): sent as written, for the API to judge.
    return { format: { type: 'json_schema', schema: root }, wrapped };
  }
}

function unwrapValue(text: string): string {
  try {
    const parsed = JSON.parse(text) as unknown;
    return isObject(parsed) && 'value' in parsed ? JSON.stringify(parsed.value) : text;
  } catch {
    return text; // not JSON: the parser says so, with the reply as evidence
  }
}

function truncation(message: Anthropic.Message, requestBody: Record<string, unknown>): string | undefined {
  const tokens = message.usage?.output_tokens ?? 'an unknown number of';
  if (message.stop_reason === 'max_tokens') {
    return `the reply was cut off at max_tokens (${String(requestBody.max_tokens)}) (stop_reason: max_tokens) after ${tokens} tokens, so it was not used; raise the step's params.max_tokens or ask for a shorter reply`;
  }
  if (message.stop_reason === 'model_context_window_exceeded') {
    return `the reply was cut off at the model's context window (stop_reason: model_context_window_exceeded) after ${tokens} tokens, so it was not used; shorten the prompt or ask for a shorter reply`;
  }
  return undefined;
}

/** Input tokens include those written to and read from the prompt cache, which the API counts apart. */
function usageOf(usage: Anthropic.Usage | undefined): LlmUsage | null {
  if (!usage || typeof usage.input_tokens !== 'number') return null;
  const prompt = usage.input_tokens + (usage.cache_creation_input_tokens ?? 0) + (usage.cache_read_input_tokens ?? 0);
  const completion = typeof usage.output_tokens === 'number' ? usage.output_tokens : null;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: completion === null ? null : prompt + completion };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
