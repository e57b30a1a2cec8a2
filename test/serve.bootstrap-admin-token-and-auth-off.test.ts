import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { withDatabase } from './support/global-setup.js';
import { adminQuery, TEST_DB_PREFIX } from './support/postgres-admin.js';
import { startServer, type ServerProcess } from './support/server-process.js';
import { testPostgresUrl } from './support/test-postgres.js';

const me = async (server: ServerProcess, token?: string) => {
  const response = await fetch(`${server.baseUrl}/api/me`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return { status: response.status, body: (await response.json()) as { name?: string | null } };
};


describe('serve: the first admin token, and STEPGATE_AUTH=off', { timeout: 300_000 }, () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'stepgate-bootstrap-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('refuses to start with STEPGATE_AUTH=off on a non-loopback HOST, and says why', async () => {
    const result = await runCli(['serve'], { STEPGATE_AUTH: 'off', HOST: '0.0.0.0', PORT: '0', STEPGATE_DATA_DIR: join(work, 'never') });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('STEPGATE_AUTH=off is refused with HOST=0.0.0.0');
    expect(result.stderr).toContain('loopback');
    expect(existsSync(join(work, 'never'))).toBe(false);
  });

  it('writes an admin token on first start (mode 0600, the path printed, never the token) and keeps it on restart', async () => {
    const dataDir = join(work, 'data');
    const first = await startServer({ STEPGATE_DATA_DIR: dataDir, LOG_LEVEL: 'trace' });
    const path = join(dataDir, 'admin-token');
    const token = readFileSync(path, 'utf8').trim();
    try {
      expect(token).toMatch(/^sg_[A-Za-z0-9_-]{43}$/);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(await me(first, token)).toEqual({ status: 200, body: { name: 'admin', role: 'admin', expires_at: null, authentication: 'on' } });
      expect((await me(first)).status).toBe(401);
    } finally {
      await first.stop();
    }
    expect(first.output()).toContain(`Created the admin token admin in ${path}`);
    expect(first.output()).not.toContain(token);
    expect(first.output()).not.toContain(token.slice(3));

    const second = await startServer({ STEPGATE_DATA_DIR: dataDir, LOG_LEVEL: 'trace' });
    try {
      expect(readFileSync(path, 'utf8').trim()).toBe(token);
      expect((await me(second, token)).status).toBe(200);
    } finally {
      await second.stop();
    }
    expect(second.output()).not.toContain('Created the admin token');
    expect(second.output()).not.toContain(token);
  });

  it('serves without tokens with STEPGATE_AUTH=off on loopback, and says so', async () => {
    const server = await startServer({ STEPGATE_DATA_DIR: join(work, 'off'), STEPGATE_AUTH: 'off' });
    try {
      expect(await me(server)).toEqual({ status: 200, body: { name: null, role: 'admin', expires_at: null, authentication: 'off' } });
      expect(existsSync(join(work, 'off', 'admin-token'))).toBe(false);
    } finally {
      await server.stop();
    }
  });

  const url = testPostgresUrl();
  it('[postgres] two servers starting at once on one database create exactly one admin token', async () => {
    const name = `${TEST_DB_PREFIX}${randomBytes(6).toString('hex')}`;
    await adminQuery(url, `CREATE DATABASE ${name}`);
    const databaseUrl = withDatabase(url, name);
    const dirs = [join(work, 'pg-one'), join(work, 'pg-two')];
    const servers = await Promise.all(dirs.map((dir) => startServer({ DATABASE_URL: databaseUrl, STEPGATE_DATA_DIR: dir })));
    try {
      const written = dirs.filter((dir) => existsSync(join(dir, 'admin-token')));
      expect(written).toHaveLength(1);
      const token = readFileSync(join(written[0]!, 'admin-token'), 'utf8').trim();
      for (const server of servers) expect((await me(server, token)).body.name).toBe('admin');
      const tokens = await fetch(`${servers[0]!.baseUrl}/api/tokens`, { headers: { authorization: `Bearer ${token}` } });
      expect(((await tokens.json()) as { items: unknown[] }).items).toHaveLength(1);
    } finally {
      await Promise.all(servers.map((server) => server.stop()));
      await adminQuery(url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }
  });
});
