import { expect, it } from 'vitest';
import { loggable } from '../src/http/app.js';
import { openPglite } from '../src/storage/pglite/connect.js';
import { sql } from 'drizzle-orm';

it('logs a database error by its SQLSTATE and constraint, never with the query parameters', async () => {
  const database = await openPglite({ memory: true });
  try {
    await database.db.execute(sql`CREATE TABLE secrets (id int PRIMARY KEY)`);
    await database.db.execute(sql`INSERT INTO secrets VALUES (${1})`);
    let failure: Error | undefined;
    try {
      await database.db.execute(sql`INSERT INTO secrets (id) SELECT ${1} WHERE ${'the-secret-prompt'} <> ''`);
    } catch (err) {
      failure = err as Error;
    }
    expect(failure?.message).toContain('the-secret-prompt'); // what Drizzle would have logged
    const logged = JSON.stringify(loggable(failure!));
    expect(logged).not.toContain('the-secret-prompt');
    expect(JSON.parse(logged)).toMatchObject({ sqlstate: '23505', constraint: 'secrets_pkey' });
  } finally {
    await database.close();
  }
});
