import { maxHeaderSize } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { App } from '../src/http/app.js';
import { testApp } from './support/app.js';
import { describeEachDriver } from './support/databases.js';

/**
 * Requests Node's HTTP parser refuses before any route sees them (Node's `clientError`) are
 * answered like every other refusal: problem+json with a request id, then the connection closes.
 */

/** Sends raw bytes over TCP and reads the whole answer until the server closes the connection. */
function exchange(port: number, raw: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', body = ''] = text.split('\r\n\r\n', 2);
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body });
    });
    socket.write(raw);
  });
}

describeEachDriver(
  'requests refused by the HTTP parser',
  (ctx) => {
    let app: App;
    let port: number;
    beforeAll(async () => {
      app = await testApp(ctx.database);
      await app.listen({ host: '127.0.0.1', port: 0 });
      port = (app.server.address() as { port: number }).port;
    });
    afterAll(async () => {
      await app.close();
    });

    const expectProblemAnswer = (answer: Awaited<ReturnType<typeof exchange>>, status: number, code: string) => {
      expect(answer.status, answer.body).toBe(status);
      expect(answer.headers['content-type']).toBe('application/problem+json');
      expect(answer.headers['connection']).toBe('close');
      const body = JSON.parse(answer.body) as { status: number; code: string; detail: string; request_id: string; type: string };
      expect(body).toMatchObject({ status, code, type: `urn:stepgate:problem:${code.toLowerCase().replaceAll('_', '-')}` });
      expect(body.request_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(answer.headers['x-request-id']).toBe(body.request_id);
      expect(Number(answer.headers['content-length'])).toBe(Buffer.byteLength(answer.body));
      return body;
    };

    it('answers headers over Node\'s limit with a 431 problem naming the limit', async () => {
      const answer = await exchange(port, `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(maxHeaderSize + 1)}\r\n\r\n`);
      expect(expectProblemAnswer(answer, 431, 'HEADERS_TOO_LARGE').detail).toContain(`${maxHeaderSize} bytes`);
    });

    it('answers a URL over the limit with the same 431 problem', async () => {
      const answer = await exchange(port, `GET /api/runs?status=${'x'.repeat(maxHeaderSize + 1)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      expectProblemAnswer(answer, 431, 'HEADERS_TOO_LARGE');
    });

    it('answers bytes that are not HTTP with a 400 problem, and keeps serving', async () => {
      expectProblemAnswer(await exchange(port, 'HELLO THERE\r\n\r\n'), 400, 'MALFORMED_REQUEST');
      const health = await exchange(port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
      expect(health.status).toBe(200);
    });
  },
  { shared: true },
);
