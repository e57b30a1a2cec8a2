import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, CliError } from '../src/cli/client.js';
import { EXIT } from '../src/cli/exit-codes.js';
import { streamRun, type RunEvent } from '../src/cli/run-stream.js';

/**
 * The CLI's reader of a streamed run (SPEC §12, docs/events.md) against a local HTTP server
 * that answers with the wire format's rarer endings, which a real server only reaches by
 * accident: an error after streaming began, a connection that drops before the run line, and
 * a server that does not stream at all.
 */
describe('streamRun reads NDJSON as the server writes it', () => {
  const RUN = '5b0d7c1e-0000-4000-8000-000000000001';
  const event = (id: number, kind: string, extra: Partial<RunEvent> = {}) => ({ id: String(id), kind, run_id: RUN, step_key: null, step_run_id: null, attempt: null, status: null, at: '2026-11-29T17:00:00.000Z', ...extra });
  const run = { id: RUN, status: 'waiting', step_runs: [{ id: 's', step_key: 'A', status: 'SUCCESS' }] };
  const answers: Record<string, (res: ServerResponse) => void> = {
    '/ends-with-the-run': (res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      // Lines split across writes, as TCP may deliver them.
      const text = [event(1, 'run_started'), event(2, 'step_started', { step_key: 'A', step_run_id: 's' }), run].map((line) => JSON.stringify(line)).join('\n') + '\n';
      res.write(text.slice(0, 30));
      setImmediate(() => res.end(text.slice(30)));
    },
    '/error-after-streaming-began': (res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write(`${JSON.stringify(event(1, 'run_resumed'))}\n`);
      res.end(`${JSON.stringify({ kind: 'error', problem: { status: 409, code: 'RUN_LEASE_LOST', detail: 'Another process took the run over.' } })}\n`);
    },
    '/drops-before-the-run': (res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write(`${JSON.stringify(event(1, 'run_started'))}\n`, () => res.destroy());
    },
    '/does-not-stream': (res) => {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify(run));
    },
    '/refused': (res) => {
      res.writeHead(409, { 'content-type': 'application/problem+json' });
      res.end(JSON.stringify({ status: 409, code: 'RUN_NOT_WAITING', detail: 'The run is not waiting.' }));
    },
  };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => answers[req.url!]!(res));
  });
  let api: ApiClient;

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    api = new ApiClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('hands over each event in order and answers the last line, the run', async () => {
    const seen: string[] = [];
    const answer = await streamRun(api, 'POST', '/ends-with-the-run', {}, (e) => seen.push(`${e.id}:${e.kind}`));
    expect(seen).toEqual(['1:run_started', '2:step_started']);
    expect(answer).toEqual(run);
  });

  it("throws the error line's problem, with the exit code of its status", async () => {
    const seen: string[] = [];
    const failure = await streamRun(api, 'POST', '/error-after-streaming-began', undefined, (e) => seen.push(e.kind)).catch((err: unknown) => err);
    expect(seen).toEqual(['run_resumed']);
    expect(failure).toBeInstanceOf(CliError);
    expect(failure).toMatchObject({ exitCode: EXIT.conflict, problem: { code: 'RUN_LEASE_LOST' } });
    expect((failure as CliError).message).toContain('Another process took the run over.');
  });

  it('says the run goes on, and how to follow it, when the connection drops before the run line', async () => {
    const failure = await streamRun(api, 'POST', '/drops-before-the-run', {}, () => {}).catch((err: unknown) => err);
    expect(failure).toMatchObject({ exitCode: EXIT.unreachable });
    expect((failure as CliError).message).toContain(`stepgate watch ${RUN} follows it`);
  });

  it('takes a plain JSON answer as the run, and a refusal as its problem', async () => {
    expect(await streamRun(api, 'POST', '/does-not-stream', {}, () => {})).toEqual(run);
    await expect(streamRun(api, 'POST', '/refused', undefined, () => {})).rejects.toMatchObject({ exitCode: EXIT.conflict, message: 'The run is not waiting.' });
  });
});
