import { decodeCursor, encodeCursor, type CursorFilters, type CursorList, type Page, type Position } from '../core/cursor.js';
import { RequestInvalidError } from '../core/errors.js';

/** A list's paging as a caller asks for it: how many, where to start, whether to count. */
export interface ListQuery {
  readonly limit: number;
  /** Compatibility: skip this many rows (every one of them is read). */
  readonly offset?: number | undefined;
  /** `next_cursor` of the page before (core/cursor.ts). */
  readonly cursor?: string | undefined;
  readonly count?: boolean | undefined;
}

/** The position a list's cursor names (422 for one that is not); a cursor and an offset together are refused. */
export function afterCursor(list: CursorList, filters: CursorFilters, query: ListQuery): Position | undefined {
  if (query.cursor === undefined) return undefined;
  if (query.offset) {
    throw new RequestInvalidError([{ path: 'offset', message: 'cannot be combined with cursor: a cursor already says where the page starts' }], 'Pass either cursor or offset, not both.');
  }
  return decodeCursor(list, filters, query.cursor);
}

/** A page with the cursor of the page after it (none on the last page). */
export function withCursor<T>(list: CursorList, filters: CursorFilters, page: Page<T>): Page<T> & { readonly nextCursor: string | undefined } {
  return { ...page, nextCursor: page.next && encodeCursor(list, filters, page.next) };
}
