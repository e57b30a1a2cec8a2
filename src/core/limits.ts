import type { Issue } from './errors.js';
import { formatPath } from './manifest/parse.js';

/**
 * The limits every request body (and manifest file) is held to before any expensive work,
 * configurable in src/config.ts and listed in the README. Beyond them: a 4xx naming the
 * field and the limit, nothing stored.
 */
export interface InputLimits {
  /** Steps per manifest (STEPGATE_MAX_STEPS). */
  readonly maxSteps: number;
  /** Characters in any one string or object key (STEPGATE_MAX_STRING_LENGTH). */
  readonly maxStringLength: number;
  /** Nesting of objects and arrays (STEPGATE_MAX_DEPTH). */
  readonly maxDepth: number;
}

export const DEFAULT_LIMITS: InputLimits = { maxSteps: 1000, maxStringLength: 100_000, maxDepth: 64 };

/** Keys that mean something to JavaScript objects; refused anywhere rather than trusted to every consumer. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Reported at most; a body with more problems than this is hostile anyway. */
const MAX_ISSUES = 50;

/**
 * Every string and key a value holds, checked in one iterative pass (no recursion, so no
 * depth can exhaust the stack): no NUL character (PostgreSQL text and jsonb cannot store
 * one), no lone surrogate (not Unicode; jsonb refuses it), no string over the length limit,
 * no prototype key, no nesting beyond the depth limit, no number that is not finite.
 */
export function inputIssues(value: unknown, limits: Pick<InputLimits, 'maxStringLength' | 'maxDepth'>): Issue[] {
  const issues: Issue[] = [];
  // Each entry knows its parent, so a path is built only for a value that has a problem.
  interface Entry {
    readonly value: unknown;
    readonly key: string | number | undefined;
    readonly parent: Entry | undefined;
    readonly depth: number;
  }
  const pathOf = (entry: Entry, key?: string): string => {
    const segments: Array<string | number> = key === undefined ? [] : [key];
    for (let e: Entry | undefined = entry; e?.key !== undefined; e = e.parent) segments.push(e.key);
    return formatPath(segments.reverse()) || '(body)';
  };
  const stack: Entry[] = [{ value, key: undefined, parent: undefined, depth: 0 }];
  while (stack.length > 0 && issues.length < MAX_ISSUES) {
    const entry = stack.pop()!;
    const current = entry.value;
    if (typeof current === 'string') {
      const problem = stringProblem(current, limits.maxStringLength);
      if (problem) issues.push({ path: pathOf(entry), message: problem });
    } else if (typeof current === 'number') {
      if (!Number.isFinite(current)) issues.push({ path: pathOf(entry), message: 'expected a finite number, found one too large to represent' });
    } else if (typeof current === 'object' && current !== null) {
      if (entry.depth >= limits.maxDepth) {
        issues.push({ path: pathOf(entry), message: `nested deeper than the limit of ${limits.maxDepth} levels (STEPGATE_MAX_DEPTH)` });
        continue;
      }
      const depth = entry.depth + 1;
      if (Array.isArray(current)) {
        for (let i = current.length - 1; i >= 0; i--) stack.push({ value: current[i], key: i, parent: entry, depth });
        continue;
      }
      const keys = Object.keys(current);
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i]!;
        const keyProblem = FORBIDDEN_KEYS.has(key) ? `the key "${key}" is not allowed` : stringProblem(key, limits.maxStringLength);
        if (keyProblem) issues.push({ path: pathOf(entry, abbreviated(key)), message: `key: ${keyProblem}` });
        else stack.push({ value: (current as Record<string, unknown>)[key], key, parent: entry, depth });
      }
    }
  }
  return issues;
}

/** Longer keys are shown by their start and length in problems, not echoed whole. */
const SHOWN_KEY_LENGTH = 40;

/** A key as a problem may quote it: whole when short, else its start and its length. */
export function abbreviated(key: string): string {
  return key.length <= SHOWN_KEY_LENGTH ? key : `${key.slice(0, SHOWN_KEY_LENGTH)}…(${key.length} characters)`;
}

/** What makes a string unstorable or too long, if anything. */
export function stringProblem(text: string, maxLength: number): string | undefined {
  if (text.length > maxLength) return `expected at most ${maxLength} characters (STEPGATE_MAX_STRING_LENGTH), found ${text.length}`;
  if (text.includes('\u0000')) return 'contains a NUL character (\\u0000), which cannot be stored: remove it';
  if (!text.isWellFormed()) return 'contains a lone surrogate (\\ud800–\\udfff without its pair), which is not valid Unicode';
  return undefined;
}

/** Task steps of one run in flight at once unless STEPGATE_MAX_PARALLEL_STEPS says otherwise (SPEC §15). */
export const DEFAULT_MAX_PARALLEL_STEPS = 16;

/** Items of one map step unless STEPGATE_MAX_ITEMS says otherwise (SPEC §17). */
export const DEFAULT_MAX_ITEMS = 1000;
