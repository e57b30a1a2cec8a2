import { expect, it } from 'vitest';
import { testApp } from './support/app.js';
import { describeEachDriver } from './support/databases.js';
import { expectProblem, postManifest } from './support/http.js';

/**
 * SPEC §11: a manifest far over the step limit is refused before any other work (only the
 * limit is reported, not the cycle and bad references it also holds), stores nothing, and the
 * server answers other requests meanwhile. Timing belongs to the benchmark, not here.
 */
describeEachDriver('a huge manifest', (ctx) => {
  it('is refused on the step limit alone while concurrent health checks are answered', async () => {
    // A body limit raised to 4 MiB, so that the step limit is what refuses it.
    const app = await testApp(ctx.database, { bodyLimit: 4 * 1_048_576 });
    const steps = Array.from({ length: 16_000 }, (_, i) => ({ key: `s${i}`, prompt: `{{steps.s${(i + 1) % 16_000}.x}}`, depends_on: [`s${(i + 1) % 16_000}`] }));
    const body = JSON.stringify({ name: 'huge', steps });
    const [refused, ...health] = await Promise.all([
      postManifest(app, body),
      ...Array.from({ length: 5 }, () => app.inject({ method: 'GET', url: '/healthz' })),
    ]);
    const problem = expectProblem(refused!, 422, 'MANIFEST_INVALID');
    expect(problem.errors).toEqual([{ path: 'steps', message: 'expected at most 1000 steps (STEPGATE_MAX_STEPS), found 16000' }]);
    expect(health.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200]);
    const list = await app.inject({ method: 'GET', url: '/api/manifests' });
    expect(list.json().items).toEqual([]);
  });
});
