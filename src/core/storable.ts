/**
 * PostgreSQL stores neither a NUL character (U+0000) nor an unpaired UTF-16 surrogate in
 * text or jsonb. `storable` finds the first such character in a value (any depth, keys too)
 * and returns the value with every one of them replaced by U+FFFD.
 */
export interface Unstorable {
  /** `$.response.choices[0].message.content` */
  readonly path: string;
  readonly what: 'a NUL character' | 'an unpaired surrogate';
}

// With the `u` flag a well-formed surrogate pair is one code point, so the range matches only unpaired ones.
const BAD = /[\u0000\uD800-\uDFFF]/gu;
const BAD_TEST = /[\u0000\uD800-\uDFFF]/u;

export function storable<T>(value: T): { value: T; problem: Unstorable | undefined } {
  let problem: Unstorable | undefined;
  const clean = (v: unknown, path: string): unknown => {
    if (typeof v === 'string') {
      const match = BAD_TEST.exec(v);
      if (!match) return v;
      problem ??= { path, what: match[0] === '\u0000' ? 'a NUL character' : 'an unpaired surrogate' };
      return v.replace(BAD, '\uFFFD');
    }
    if (Array.isArray(v)) return v.map((item, i) => clean(item, `${path}[${i}]`));
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([key, item]) => [clean(key, `${path}`) as string, clean(item, `${path}.${key}`)]));
    }
    return v;
  };
  const value2 = clean(value, '$') as T;
  return { value: problem ? value2 : value, problem };
}
