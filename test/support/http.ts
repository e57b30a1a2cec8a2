import { expect } from 'vitest';
import type { App } from '../../src/http/app.js';

export async function postManifest(app: App, body: unknown, contentType = 'application/json', url = '/api/manifests') {
  return app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': contentType },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Asserts an RFC 9457 problem response and returns its body. */
export function expectProblem(response: { statusCode: number; headers: Record<string, unknown>; json(): unknown }, status: number, code?: string) {
  expect(response.statusCode, JSON.stringify(response.json())).toBe(status);
  expect(String(response.headers['content-type'])).toMatch(/^application\/problem\+json/);
  const body = response.json() as { status: number; code: string; detail: string; errors?: Array<{ path: string; message: string }> };
  expect(body.status).toBe(status);
  expect(body.detail.length).toBeGreaterThan(0);
  if (code) expect(body.code).toBe(code);
  return body;
}
