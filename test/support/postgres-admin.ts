import pg from 'pg';

export const TEMPLATE_PREFIX = 'stepgate_tpl_';
export const TEST_DB_PREFIX = 'stepgate_t_';

/** One statement on the suites' PostgreSQL server (CREATE/DROP DATABASE cannot run in a pool transaction). */
export async function adminQuery(url: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
