import { Writable } from 'node:stream';
import { pino } from 'pino';
import { expect, it } from 'vitest';
import { REDACTED_PATHS } from '../src/cli/server-logger.js';
import { testApp } from './support/app.js';
import { describeEachDriver } from './support/databases.js';
import { expectProblem } from './support/http.js';

/** A logger writing JSON lines into an array, as the server's logger does to stdout. */
function capturingLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, logger: pino({ level: 'info', redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, stream) };
}

describeEachDriver('request ids', (ctx) => {
  it('echoes a sane X-Request-Id on the response, in the problem and in every log line of the request', async () => {
    const { lines, logger } = capturingLogger();
    const app = await testApp(ctx.database, { loggerInstance: logger });
    const response = await app.inject({ method: 'GET', url: '/api/runs/nope', headers: { 'x-request-id': 'ticket-4711.retry:2', authorization: 'Bearer s3cret-token' } });
    expect(response.headers['x-request-id']).toBe('ticket-4711.retry:2');
    expect(expectProblem(response, 404, 'RUN_NOT_FOUND')).toMatchObject({ request_id: 'ticket-4711.retry:2' });
    const mine = lines.map((line) => JSON.parse(line) as { request_id?: string }).filter((entry) => entry.request_id === 'ticket-4711.retry:2');
    expect(mine.length).toBeGreaterThanOrEqual(2); // incoming request, request completed
    expect(lines.join('\n')).not.toContain('s3cret-token');
  });

  it('replaces an id that is too long or holds other characters, and makes one when none is sent', async () => {
    const app = await testApp(ctx.database);
    const ids = new Set<string>();
    for (const sent of ['x'.repeat(129), 'has space', 'semi;colon', 'crlf%0d%0a', 'ünï', undefined]) {
      const response = await app.inject({ method: 'GET', url: '/healthz', headers: sent === undefined ? {} : { 'x-request-id': sent } });
      expect(response.statusCode).toBe(200);
      const id = String(response.headers['x-request-id']);
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      ids.add(id);
    }
    expect(ids.size).toBe(6);
    const longest = 'y'.repeat(128);
    expect((await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': longest } })).headers['x-request-id']).toBe(longest);
  });

  it('puts the request id in problems Fastify raises before routing, and in 404s of unknown routes', async () => {
    const app = await testApp(ctx.database);
    const malformed = await app.inject({ method: 'GET', url: '/api/runs/%', headers: { 'x-request-id': 'bad-url-1' } });
    expect(expectProblem(malformed, 400)).toMatchObject({ request_id: 'bad-url-1' });
    expect(malformed.headers['x-request-id']).toBe('bad-url-1');
    const unknown = await app.inject({ method: 'GET', url: '/nowhere', headers: { 'x-request-id': 'nowhere-1' } });
    expect(expectProblem(unknown, 404, 'ROUTE_NOT_FOUND')).toMatchObject({ request_id: 'nowhere-1' });
  });
});
