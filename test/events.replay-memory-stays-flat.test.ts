import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { api } from './support/server-process.js';
import { testPostgresUrl } from './support/test-postgres.js';
import { postgresForProcesses } from './support/postgres-for-processes.js';
import { startTranspiledServer, transpileSources } from './support/transpiled-server.js';

/**
 * Issue 25: replaying from an old event grew a server from 145 MB to 1.5 GB (every id sent was
 * kept, and pages were read without waiting for the client). A server process replays 300,000
 * events (~75 MB of stream) to a client that reads slowly, then follows live; its peak
 * resident memory (VmHWM) stays flat over the last two thirds of the replay and grows by less
 * than 50 MB in all — the replay holds a page, not the range. (The client's pace only makes
 * the server's writes back up, as a client on a slow network would; nothing here is timed.)
 */
const url = testPostgresUrl();
const EVENTS = 300_000;
const GROWTH_MB = 50;
/** Over the last two thirds of the replay. */
const FLAT_MB = 20;

const closing: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closing.splice(0).reverse()) await close();
});

const peakMb = (pid: number) => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** Reads the stream until `count` events came, taking a pause every 64 KB; answers the count. `onEvents(n)` hears the count after each chunk. */
async function readSlowly(target: string, count: number, onEvents: (seen: number) => void = () => {}): Promise<number> {
  const request = httpRequest(target, { headers: { accept: 'text/event-stream', 'last-event-id': '0' } });
  const response = await new Promise<IncomingMessage>((resolve, reject) => request.on('response', resolve).on('error', reject).end());
  expect(response.statusCode).toBe(200);
  let seen = 0;
  let sincePause = 0;
  let tail = '';
  try {
    for await (const chunk of response as AsyncIterable<Buffer>) {
      // Each event opens with an id line; the end of the last chunk is kept so that none is cut in two.
      const text = tail + chunk.toString('latin1');
      for (let at = text.indexOf('\nid: '); at >= 0; at = text.indexOf('\nid: ', at + 1)) seen++;
      tail = text.slice(-4);
      onEvents(seen);
      sincePause += chunk.length;
      if (sincePause >= 65_536) {
        sincePause = 0;
        await sleep(10);
      }
      if (seen >= count) break;
    }
  } finally {
    request.destroy();
  }
  return seen;
}

describe('[postgres] a long replay', () => {
  it(`keeps the server's memory flat: ${EVENTS.toLocaleString('en')} events replayed to a slow client leave its peak flat after the first third, and less than ${GROWTH_MB} MB higher`, async () => {
    const sources = transpileSources();
    const pg = await postgresForProcesses(url);
    closing.push(async () => {
      await pg.close();
      sources.remove();
    });
    // A heap of 160 MB (the server idles at ~60): garbage is then collected rather than left to
    // grow when the machine is busy, so what the peak shows is what a replay holds.
    const server = await startTranspiledServer(sources, {
      DATABASE_URL: pg.url,
      STEPGATE_DEFAULT_MODEL: 'offline:echo',
      NODE_OPTIONS: [process.env.NODE_OPTIONS, '--max-old-space-size=160'].filter(Boolean).join(' '),
    });
    closing.push(() => server.kill());
    const pid = server.child.pid!;
    const stored = await api(server.baseUrl, 'POST', '/api/manifests', { name: 'x', steps: [{ key: 'A', prompt: 'a' }] });
    const run = await api(server.baseUrl, 'POST', '/api/runs', { manifest_id: stored.body.id });
    expect(run.body.status).toBe('success');
    await pg.database.db.execute(
      sql`INSERT INTO run_events (run_id, kind, step_key, step_run_id, attempt, status)
          SELECT ${run.body.id}::uuid, 'step_succeeded', 'step-' || g, gen_random_uuid(), 1, 'SUCCESS' FROM generate_series(1, ${EVENTS}) AS g`,
    );
    // Warm: the paths of a replay are loaded and run once before the baseline is taken.
    expect(await readSlowly(`${server.baseUrl}/api/events?follow=false&limit=2000`, 2_000)).toBeGreaterThanOrEqual(2_000);
    const before = peakMb(pid);
    // The peak once a third of the replay went out, and at its end: a replay that holds what
    // it read (or what it sent) keeps growing through the rest; one that holds a page does not.
    let third: number | undefined;
    const seen = await readSlowly(`${server.baseUrl}/api/events`, EVENTS + 4, (n) => {
      if (third === undefined && n >= EVENTS / 3) third = peakMb(pid);
    });
    expect(seen).toBe(EVENTS + 4);
    const end = peakMb(pid);
    expect(end - third!, `peak ${before.toFixed(0)} MB before, ${third!.toFixed(0)} MB a third of the way, ${end.toFixed(0)} MB at the end`).toBeLessThan(FLAT_MB);
    expect(end - before).toBeLessThan(GROWTH_MB);
  }, 300_000);
});
