import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { queryRows, type Database } from '../src/storage/database.js';
import { testDrivers } from './support/databases.js';

async function triggersOnAudit(database: Database): Promise<string[]> {
  const rows = await queryRows<{ tgname: string }>(database.db, sql`SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_events'::regclass AND NOT tgisinternal ORDER BY tgname`);
  return rows.map((row) => row.tgname);
}

// PGlite instances are reused within a worker (test/support/databases.ts): one left with a
// trigger by the audit test failed the next file's cancels with 500.
describe("the suite's fresh databases", () => {
  for (const driver of testDrivers()) {
    it(`[${driver.name}] never carry a schema change of a test before`, async () => {
      const first = await driver.fresh();
      const migrated = await triggersOnAudit(first);
      await first.db.execute(sql.raw(`CREATE FUNCTION left_behind() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'left behind'; END $$`));
      await first.db.execute(sql.raw(`CREATE TRIGGER left_behind BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION left_behind()`));
      expect(await triggersOnAudit(first)).toContain('left_behind');
      await first.close();
      const next = await driver.fresh();
      expect(await triggersOnAudit(next)).toEqual(migrated);
      await next.close();
    });
  }
});
