import { sql, type AnyColumn, type SQL } from 'drizzle-orm';
import type { Page, Position } from '../core/cursor.js';

/**
 * Keyset paging (core/cursor.ts): a list ordered by (timestamp, id) descending starts its
 * next page after the last row of the page before. The timestamp must come back exactly as
 * stored — microseconds, which a JavaScript Date cannot hold — so it is read as ISO 8601 text
 * in UTC and compared as timestamptz.
 */
export function cursorAt(column: AnyColumn | SQL): SQL<string> {
  return sql<string>`to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

/** The first `limit` rows (of `limit` + 1 read), and the position of the last of them when more rows followed. */
export function pageOf<R, T>(rows: R[], limit: number, total: number | undefined, split: (row: R) => [T, Position]): Page<T> {
  const items: T[] = [];
  let next: Position | undefined;
  for (const row of rows.slice(0, limit)) {
    const [item, position] = split(row);
    items.push(item);
    next = position;
  }
  return { items, next: rows.length > limit ? next : undefined, total };
}
