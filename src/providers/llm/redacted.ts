import { LlmCallError, type LlmProvider, type LlmReply } from '../../core/llm.js';

/** What a key is replaced with in evidence. */
export const REDACTED = '[redacted]';

/**
 * Keys stay in the process (SPEC §16). The adapters never record request headers, but a
 * provider (a proxy, a local server) may echo the key it was sent in an error message or a
 * body: every reply and every failure of the provider that holds `key` is searched for it,
 * and each occurrence replaced, before the engine records or shows anything.
 */
export function withoutKey(provider: LlmProvider, key: string | undefined): LlmProvider {
  if (key === undefined || key === '') return provider;
  return {
    ...provider,
    async complete(request, options) {
      try {
        const reply = await provider.complete(request, options);
        return scrubReply(reply, key);
      } catch (err) {
        throw err instanceof LlmCallError ? scrubError(err, key) : err instanceof Error && err.message.includes(key) ? new Error(err.message.replaceAll(key, REDACTED)) : err;
      }
    },
  };
}

function scrubReply(reply: LlmReply, key: string): LlmReply {
  return { ...reply, text: reply.text.replaceAll(key, REDACTED), requestBody: scrub(reply.requestBody, key), responseBody: scrub(reply.responseBody, key) };
}

function scrubError(err: LlmCallError, key: string): LlmCallError {
  const touched = err.message.includes(key) || mentions(err.requestBody, key) || mentions(err.responseBody, key);
  if (!touched) return err;
  return new LlmCallError(err.message.replaceAll(key, REDACTED), {
    kind: err.kind,
    requestBody: scrub(err.requestBody, key),
    responseBody: scrub(err.responseBody, key),
    status: err.status,
    tries: err.tries,
    usage: err.usage,
  });
}

function mentions(value: unknown, key: string): boolean {
  // The key as it reads inside JSON text (a quote or a backslash in it is escaped there).
  return value !== undefined && value !== null && JSON.stringify(value).includes(JSON.stringify(key).slice(1, -1));
}

/** The value with every string holding the key rewritten (a JSON round trip only when it is there). */
function scrub<T>(value: T, key: string): T {
  if (!mentions(value, key)) return value;
  return JSON.parse(JSON.stringify(value, (_, v: unknown) => (typeof v === 'string' ? v.replaceAll(key, REDACTED) : v))) as T;
}
