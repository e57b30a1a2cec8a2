import { LlmCallError, type CallOptions, type LlmProvider, type LlmReply, type LlmRequest } from '../../core/llm.js';
import { abortedCall } from './aborted.js';

/**
 * `offline:<anything>` — deterministic, no network; the default, so stepgate runs on a fresh
 * machine without keys. The same request always gets the same reply:
 * - text output: `[offline:<model>] ` followed by the prompt (the last user message);
 * - json output: a value built from the step's JSON Schema (first enum/const value, "offline"
 *   for strings, the minimum or 0 for numbers, true, one item per array, every property of an
 *   object), or `{"prompt": "<the prompt>"}` without a schema;
 * - `offline:fail` fails every call (to rehearse a failing step).
 * Token usage is estimated as characters / 4.
 */
export function offlineProvider(): LlmProvider {
  return {
    name: 'offline',
    info: { kind: 'offline', baseUrl: null, apiKeyEnv: null, keySet: false },
    async complete(request: LlmRequest, options?: CallOptions): Promise<LlmReply> {
      const requestBody = { model: request.model, messages: request.messages, params: request.params, output: request.output };
      if (options?.signal?.aborted) throw abortedCall(requestBody, 0);
      if (request.model === 'fail') {
        throw new LlmCallError('offline:fail fails every call, by design', { kind: 'provider', requestBody, tries: 1 });
      }
      const prompt = [...request.messages].reverse().find((m) => m.role === 'user')?.content ?? '';
      const text =
        request.output.format === 'json'
          ? JSON.stringify(request.output.schema ? exampleOf(request.output.schema) : { prompt })
          : `[offline:${request.model}] ${prompt}`;
      const promptTokens = Math.ceil(request.messages.reduce((n, m) => n + m.content.length, 0) / 4);
      const completionTokens = Math.ceil(text.length / 4);
      return {
        text,
        requestBody,
        responseBody: { text },
        usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
        tries: 1,
      };
    },
  };
}

/** A deterministic value that satisfies common JSON Schemas. */
export function exampleOf(schema: unknown, depth = 0): unknown {
  if (typeof schema !== 'object' || schema === null || depth > 8) return null;
  const s = schema as Record<string, unknown>;
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  if ('default' in s) return s.default;
  for (const key of ['oneOf', 'anyOf', 'allOf'] as const) {
    if (Array.isArray(s[key]) && s[key].length > 0) return exampleOf(s[key][0], depth + 1);
  }
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case 'object': {
      const properties = (s.properties ?? {}) as Record<string, unknown>;
      return Object.fromEntries(Object.entries(properties).map(([key, value]) => [key, exampleOf(value, depth + 1)]));
    }
    case 'array': {
      const count = typeof s.minItems === 'number' ? Math.max(1, s.minItems) : 1;
      return Array.from({ length: count }, () => exampleOf(s.items ?? {}, depth + 1));
    }
    case 'string': {
      const min = typeof s.minLength === 'number' ? s.minLength : 0;
      return 'offline'.padEnd(min, '.');
    }
    case 'integer':
    case 'number':
      return typeof s.minimum === 'number' ? s.minimum : 0;
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return s.properties ? exampleOf({ ...s, type: 'object' }, depth) : 'offline';
  }
}
