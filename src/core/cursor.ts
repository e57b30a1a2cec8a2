import { createHash } from 'node:crypto';
import { RequestInvalidError } from './errors.js';

/**
 * Cursors of the lists that page by keyset (runs, the audit log, manifests): each page's
 * `next_cursor` names where the next page starts — the (timestamp, id) of the page's last row
 * — so the next page is an index scan from there, as fast at the millionth row as at the first,
 * and rows inserted meanwhile (newer, so before the cursor) never shift what follows.
 *
 * A cursor is opaque text: base64url of `[version, list, filters digest, at, id]`, a dot, and
 * a checksum. It is bound to its list and to the filters it was made with; anything else —
 * garbage, a truncated or edited cursor, one of another list or other filters — is refused
 * with a 422 naming `cursor`. A cursor is no secret and grants nothing: whoever can read the
 * list can read every page of it; the checksum catches mistakes, it is not a signature.
 */

/**
 * Where a page of a list starts: the (timestamp, id) of the last row of the page before, the
 * list's order being newest first. `at` is the timestamp exactly as stored (microseconds), as
 * ISO 8601 text in UTC.
 */
export interface Position {
  readonly at: string;
  readonly id: string;
}

/** A page: its rows, where the next one starts (none when this one is the last), and the exact count when it was asked for. */
export interface Page<T> {
  readonly items: T[];
  readonly next: Position | undefined;
  readonly total: number | undefined;
}

export type CursorList = 'runs' | 'audit' | 'manifests';
export type CursorFilters = Readonly<Record<string, string | number | boolean | undefined>>;

const VERSION = 1;
/** Longer than any cursor stepgate makes (~150 characters). */
export const MAX_CURSOR_LENGTH = 512;
const AT = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;
const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const digest = (text: string) => createHash('sha256').update(text).digest('base64url');

/** The filters a list was read with, in a stable order: a cursor is valid only with the same. */
function filtersDigest(list: CursorList, filters: CursorFilters): string {
  const pairs = Object.entries(filters)
    .filter(([, value]) => value !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}=${String(value)}`);
  return digest(`${list}?${pairs.join('&')}`).slice(0, 12);
}

const checksum = (payload: string) => digest(`stepgate cursor ${payload}`).slice(0, 12);

export function encodeCursor(list: CursorList, filters: CursorFilters, position: Position): string {
  const payload = Buffer.from(JSON.stringify([VERSION, list, filtersDigest(list, filters), position.at, position.id])).toString('base64url');
  return `${payload}.${checksum(payload)}`;
}

/** The position a cursor names; a RequestInvalidError (422, path `cursor`) for anything stepgate did not make for this list and these filters. */
export function decodeCursor(list: CursorList, filters: CursorFilters, cursor: string): Position {
  const refuse = (why: string): never => {
    throw new RequestInvalidError(
      [{ path: 'cursor', message: why }],
      `The cursor is not valid here: ${why}. Pass a next_cursor exactly as a page of GET /api/${list === 'audit' ? 'audit' : list} with the same filters gave it, or leave cursor out to start from the first page.`,
    );
  };
  const [payload, check, ...rest] = cursor.split('.');
  if (cursor.length > MAX_CURSOR_LENGTH || rest.length > 0 || !payload || !check || !/^[A-Za-z0-9_-]+$/.test(payload)) refuse('not a cursor stepgate made');
  if (check !== checksum(payload!)) refuse('its checksum does not match (a cursor must be passed on unchanged)');
  let parts: unknown;
  try {
    parts = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8'));
  } catch {
    refuse('not a cursor stepgate made');
  }
  if (!Array.isArray(parts) || parts.length !== 5 || parts[0] !== VERSION) refuse('made by another version of stepgate');
  const [, ofList, filtersOf, at, id] = parts as [number, unknown, unknown, unknown, unknown];
  if (ofList !== list) refuse(`it is a cursor of another list (${String(ofList)}), not of ${list}`);
  if (filtersOf !== filtersDigest(list, filters)) refuse('it was made with other filters: pass the same filters with every page');
  if (typeof at !== 'string' || !isTimestamp(at)) refuse('its position is not a timestamp');
  if (typeof id !== 'string' || !ID.test(id)) refuse('its position is not an id');
  return { at: at as string, id: id as string };
}

/** `YYYY-MM-DDTHH:MM:SS.ffffffZ`, a real date and time (no 30 February, no hour 24). */
function isTimestamp(at: string): boolean {
  if (!AT.test(at)) return false;
  const millis = `${at.slice(0, 23)}Z`;
  const date = new Date(millis);
  return !Number.isNaN(date.getTime()) && date.toISOString() === millis;
}
