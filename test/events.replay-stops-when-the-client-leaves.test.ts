import { sql } from 'drizzle-orm';
import { afterEach, expect, it, vi } from 'vitest';
import { buildApp } from '../src/http/app.js';
import { AUTH_OFF, testDeps } from './support/app.js';
import { describeEachDriver } from './support/databases.js';
import { openSse, type SseClient } from './support/sse.js';

/**
 * Issue 25: a replay must not outlive its client. A client that asks for the whole record
 * and goes away — having stopped reading, or while reading as fast as it can — ends the
 * server's work: the stream closes (the hub's count of open streams drops to 0) having sent
 * only part of the record, instead of reading the rest of it for nobody.
 */
const EVENTS = 30_000;

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

describeEachDriver('a replay whose client leaves', (ctx) => {
  it('stops when the client goes away, whether it stopped reading or was reading', async () => {
    const deps = testDeps(ctx.database);
    const app = await buildApp(deps, { auth: AUTH_OFF });
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    cleanup.push(() => app.close());
    const stored = await app.inject({ method: 'POST', url: '/api/manifests', payload: { name: 'x', steps: [{ key: 'A', prompt: 'a' }] } });
    const run = (await app.inject({ method: 'POST', url: '/api/runs', payload: { manifest_id: stored.json().id } })).json();
    await ctx.database.db.execute(
      sql`INSERT INTO run_events (run_id, kind, step_key, status) SELECT ${run.id}::uuid, 'step_started', 's' || g, 'RUNNING' FROM generate_series(1, ${EVENTS}) AS g`,
    );
    const streams = () => deps.events.stats().streams;
    const replayed = () => deps.events.stats().replayed;

    // Reads 10 events, then nothing (the server's writes back up), then hangs up.
    const stalled: SseClient = await openSse(`${base}/api/events`, { 'last-event-id': '0' });
    expect((await stalled.take(10)).map((m) => m.data.kind)).toEqual(['run_started', 'step_started', 'step_succeeded', 'run_succeeded', ...Array(6).fill('step_started')]);
    expect(streams()).toBe(1);
    stalled.close();
    await vi.waitFor(() => expect(streams()).toBe(0), { timeout: 10_000, interval: 20 });
    const afterStalled = replayed();
    expect(afterStalled).toBeLessThan(EVENTS);

    // Reads as fast as it can, and hangs up in the middle.
    const reading = await openSse(`${base}/api/events?last_event_id=0&follow=false`);
    await reading.take(2_000);
    reading.close();
    await vi.waitFor(() => expect(streams()).toBe(0), { timeout: 10_000, interval: 20 });
    expect(replayed() - afterStalled).toBeLessThan(EVENTS);

    // A client that stays gets the first 10,000 (the cap of a request), in order, then where to continue.
    const whole = await openSse(`${base}/api/events?last_event_id=0&follow=false`);
    let count = 0;
    let last = 0n;
    let more: string | undefined;
    for (let m = await whole.next(); m; m = await whole.next()) {
      if (m.event === 'more') {
        more = m.id;
        continue;
      }
      expect(more).toBeUndefined();
      expect(BigInt(m.data.id)).toBeGreaterThan(last);
      last = BigInt(m.data.id);
      count++;
    }
    expect(count).toBe(10_000);
    expect(more).toMatch(new RegExp(`-${last}$`));
  }, 120_000);
});
