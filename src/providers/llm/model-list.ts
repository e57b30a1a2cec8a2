/**
 * A provider's model list, fetched at most once per `ttlMs` per process (concurrent callers
 * share one request). `undefined` (the provider cannot list its models) is cached too, so a
 * server without `GET /models` costs one request per TTL, not one per run.
 */
export function cachedModelList(fetchList: () => Promise<readonly string[] | undefined>, ttlMs: number): () => Promise<readonly string[] | undefined> {
  let cached: { at: number; list: Promise<readonly string[] | undefined> } | undefined;
  return () => {
    const now = Date.now();
    if (!cached || now - cached.at >= ttlMs) {
      cached = { at: now, list: fetchList().catch(() => undefined) };
    }
    return cached.list;
  };
}
