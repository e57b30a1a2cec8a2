import { storeManifest } from '../src/engine/manifests.js';
import { createToken } from '../src/engine/tokens.js';
import { buildApp, type App } from '../src/http/app.js';
import { authOptions } from '../src/http/auth/options.js';
import type { BenchDatabase } from './databases.js';
import { ABC, abc, benchDeps } from './engine.js';
import type { Measurement } from './report.js';
import { median } from './stats.js';

const UNLIMITED = { perToken: 1e9, perAddress: 1e9, windowMs: 60_000 };

/**
 * What authentication costs a GET /api/runs/{id}: two apps in this process over the same
 * database, one with tokens on and one off, measured alternately (in-process requests, so
 * neither a load generator nor a second process shares the CPU differently between them).
 * Measured one server after the other over HTTP, the figure was within the noise.
 */
export async function authCost(db: BenchDatabase, quick: boolean): Promise<Measurement[]> {
  const deps = benchDeps(db);
  const { manifest } = await storeManifest(deps, ABC);
  const { runId } = await abc(deps, manifest.id, 'auth');
  const { token } = await createToken(deps, { name: 'bench-viewer', role: 'viewer', expiresAt: null });
  const on = await buildApp(deps, { auth: authOptions({ mode: 'on', rateLimit: UNLIMITED }) });
  const off = await buildApp(deps, { auth: authOptions({ mode: 'off', rateLimit: UNLIMITED }) });
  const url = `/api/runs/${runId}`;
  const batch = async (app: App, headers: Record<string, string>, requests: number) => {
    const began = performance.now();
    for (let i = 0; i < requests; i++) {
      const response = await app.inject({ method: 'GET', url, headers: { host: '127.0.0.1', ...headers } });
      if (response.statusCode !== 200) throw new Error(`GET ${url}: ${response.statusCode} ${response.body}`);
    }
    return requests / ((performance.now() - began) / 1000);
  };
  const requests = quick ? 100 : 1000;
  const withAuth: number[] = [];
  const withoutAuth: number[] = [];
  try {
    await batch(on, { authorization: `Bearer ${token}` }, requests); // warm both up
    await batch(off, {}, requests);
    // Which one goes first alternates too: neither inherits the other's garbage more often.
    for (let round = 0; round < (quick ? 2 : 6); round++) {
      if (round % 2 === 1) withoutAuth.push(await batch(off, {}, requests));
      withAuth.push(await batch(on, { authorization: `Bearer ${token}` }, requests));
      if (round % 2 === 0) withoutAuth.push(await batch(off, {}, requests));
    }
  } finally {
    await on.close();
    await off.close();
  }
  const database = db.name;
  const [a, o] = [median(withAuth), median(withoutAuth)];
  return [
    { name: 'GET /api/runs/{id} in process, authentication off', database, value: o, unit: 'req/s' },
    { name: 'GET /api/runs/{id} in process, authentication on', database, value: a, unit: 'req/s' },
    { name: 'cost of authentication on GET throughput (in process, alternating)', database, value: (1 - a / o) * 100, unit: '%', goal: { text: '< 5 %', meets: (v) => v < 5 } },
  ];
}
