import fc from 'fast-check';
import type { InjectOptions } from 'fastify';

/**
 * Hostile requests generated from the app's own OpenAPI document, so that every endpoint —
 * including those added later — is fuzzed. Each request carries at least one hostile part
 * (SPEC §11's classes): a body mutated at a random place, a raw body that is not what it
 * claims, a wrong content type, a hostile query value or path parameter.
 */

type Schema = Record<string, unknown>;
interface Doc {
  paths: Record<string, Record<string, { parameters?: Array<{ in: string; name: string; schema?: Schema }>; requestBody?: { content: Record<string, { schema: Schema }> } }>>;
  components?: { schemas?: Record<string, Schema> };
}

export interface Operation {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly path: string;
  readonly pathParams: string[];
  /** Query parameters that take numbers, enums or ids: a number out of range is hostile there. */
  readonly query: Array<{ name: string; strict: boolean }>;
  readonly body: Schema | undefined;
  readonly consumes: string[];
}

export function operationsOf(doc: Doc): Operation[] {
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({
      method: method.toUpperCase() as Operation['method'],
      path,
      pathParams: (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name),
      query: (op.parameters ?? [])
        .filter((p) => p.in === 'query')
        .map((p) => ({ name: p.name, strict: ['integer', 'number'].includes(String(p.schema?.type)) || p.schema?.enum !== undefined || p.schema?.format === 'uuid' })),
      body: op.requestBody?.content['application/json']?.schema,
      consumes: Object.keys(op.requestBody?.content ?? {}),
    })),
  );
}

/** A roughly valid value for a JSON Schema (the base a mutation then breaks). */
export function valueOf(schema: Schema, doc: Doc, depth = 0): fc.Arbitrary<unknown> {
  const ref = schema.$ref as string | undefined;
  if (ref) return valueOf(doc.components?.schemas?.[ref.split('/').at(-1)!] ?? {}, doc, depth);
  const options = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (options) return fc.oneof(...options.map((option) => valueOf(option, doc, depth)));
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
  const type = Array.isArray(schema.type) ? (schema.type as string[]).find((t) => t !== 'null') : (schema.type as string | undefined);
  if (depth > 4) return fc.constant(null);
  switch (type) {
    case 'object': {
      const properties = (schema.properties ?? {}) as Record<string, Schema>;
      const required = new Set((schema.required ?? []) as string[]);
      const entries = Object.fromEntries(Object.entries(properties).map(([key, sub]) => [key, valueOf(sub, doc, depth + 1)]));
      return fc.record(entries, { requiredKeys: Object.keys(properties).filter((key) => required.has(key) || key === 'steps') });
    }
    case 'array':
      return fc.array(valueOf((schema.items ?? {}) as Schema, doc, depth + 1), { minLength: (schema.minItems as number | undefined) ?? 0, maxLength: 3 });
    case 'string':
      return schema.format === 'uuid' ? fc.uuid() : fc.string({ minLength: (schema.minLength as number | undefined) ?? 0, maxLength: 12 });
    case 'integer':
      return fc.integer({ min: (schema.minimum as number | undefined) ?? 0, max: Math.min((schema.maximum as number | undefined) ?? 1000, 1000) });
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 });
    case 'boolean':
      return fc.boolean();
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** Values no field accepts: unstorable, too long, too deep, prototype keys. */
export function hostileValue(limits: { maxStringLength: number; maxDepth: number }): fc.Arbitrary<unknown> {
  const nest = (depth: number, inner: unknown) => {
    let value = inner;
    for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { a: value };
    return value;
  };
  return fc.oneof(
    fc.string().map((s) => `${s}\u0000${s}`),
    fc.constantFrom('\ud800', 'x\udfffy', '\udc00\ud800'),
    fc.integer({ min: 1, max: 50 }).map((n) => 'x'.repeat(limits.maxStringLength + n)),
    fc.integer({ min: 1, max: 100 }).map((n) => nest(limits.maxDepth + n, 1)),
    fc.constantFrom('__proto__', 'constructor', 'prototype').map((key) => JSON.parse(`{"${key}": {"polluted": true}}`) as unknown),
    // An object key over the length limit (keys are held to it as strings are).
    fc.integer({ min: 1, max: 50 }).map((n) => ({ ['k'.repeat(limits.maxStringLength + n)]: 'v' })),
  );
}

/**
 * JSON text of `value` with one key written twice, in the object at `pick` among its objects
 * (JSON.stringify never writes a duplicate): an existing key first given `first`, then its own
 * value, or a new key twice. Answers the text and the path of the duplicate.
 */
export function withDuplicateKey(value: unknown, pick: number, first: unknown): { text: string; path: Array<string | number> } {
  const objects = containers(value).filter((path) => !Array.isArray(at(value, path)));
  if (objects.length === 0) return { text: `{"dup": ${JSON.stringify(first)}, "dup": ${JSON.stringify(value)}}`, path: ['dup'] };
  const where = objects[pick % objects.length]!;
  const target = at(value, where) as Record<string, unknown>;
  const keys = Object.keys(target);
  const key = keys.length > 0 ? keys[pick % keys.length]! : 'dup';
  const write = (v: unknown): string => {
    if (Array.isArray(v)) return `[${v.map(write).join(',')}]`;
    if (typeof v !== 'object' || v === null) return JSON.stringify(v) ?? 'null';
    const entries = Object.entries(v).map(([k, child]) => `${JSON.stringify(k)}:${write(child)}`);
    if (v === target) entries.unshift(...(keys.length > 0 ? [] : [`${JSON.stringify(key)}:null`]), `${JSON.stringify(key)}:${JSON.stringify(first)}`);
    return `{${entries.join(',')}}`;
  };
  return { text: write(value), path: [...where, key] };
}

function at(value: unknown, path: Array<string | number>): unknown {
  return path.reduce<unknown>((node, segment) => (node as Record<string | number, unknown>)[segment], value);
}

/** Every place in a value a mutation can go: containers, by path. */
function containers(value: unknown, path: Array<string | number> = [], out: Array<Array<string | number>> = []) {
  if (typeof value !== 'object' || value === null) return out;
  out.push(path);
  for (const [key, child] of Object.entries(value)) containers(child, [...path, Array.isArray(value) ? Number(key) : key], out);
  return out;
}

/** Puts `hostile` into `base` at one of its containers (as a new key or item). */
function mutate(base: unknown, hostile: unknown, pick: number): unknown {
  const root = { value: structuredClone(base) };
  const places = containers(root.value);
  if (places.length === 0) return hostile;
  let target: unknown = root.value;
  for (const segment of places[pick % places.length]!) target = (target as Record<string | number, unknown>)[segment];
  if (Array.isArray(target)) target.push(hostile);
  else Object.defineProperty(target, `k${pick}`, { value: hostile, enumerable: true, writable: true, configurable: true });
  return root.value;
}

const YAML_BOMB = ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...Array.from({ length: 9 }, (_, i) => `b${i}: &b${i} [${Array(9).fill(i ? `*b${i - 1}` : '*a').join(',')}]`)].join('\n');

/** Raw bodies that are not what their content type says, or YAML no manifest may use. */
const rawBodies = (limits: { maxDepth: number }) =>
  fc.constantFrom(
    { type: 'application/json', body: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]) }, // invalid UTF-8
    { type: 'application/json', body: '{"name": "x", "steps": [' },
    { type: 'application/json', body: '{"version": 1e400, "name": "x", "manifest_id": "x", "outcome": "SUCCESS"}' },
    { type: 'application/json', body: '{"name": "a", "name": "b", "steps": []}' },
    { type: 'application/json', body: `${'['.repeat(limits.maxDepth * 50)}${']'.repeat(limits.maxDepth * 50)}` },
    { type: 'application/yaml', body: `${YAML_BOMB}\nname: x` },
    { type: 'application/yaml', body: 'name: !foo x\nsteps: []' },
    { type: 'application/yaml', body: 'name: !!binary aGVsbG8=\nsteps: []' },
    { type: 'application/yaml', body: 'name: a\n---\nname: b' },
    { type: 'application/yaml', body: 'name: a\nname: b' },
    { type: 'application/yaml', body: `name: ${'['.repeat(limits.maxDepth * 100)}` },
    { type: 'application/yaml', body: `steps:\n${'- '.repeat(limits.maxDepth * 10)}x` },
    { type: 'text/plain', body: 'name: x' },
    { type: 'application/xml', body: '<manifest/>' },
    { type: 'multipart/form-data; boundary=x', body: '--x\r\n\r\nhi\r\n--x--' },
    { type: 'application/x-www-form-urlencoded', body: 'name=x' },
  );

/** Path parameter values, already URL-encoded: malformed ids, unstorable bytes, traversal. */
const hostileSegment = fc.oneof(
  fc.constantFrom('%00', '%ED%A0%80', '%ff', '..%2F..%2Fetc', 'not-a-uuid', '00000000-0000-0000-0000-00000000000g', '%', '1'.repeat(5000)),
  fc.uuid(),
  fc.string({ maxLength: 20 }).map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '')) || 'x'),
);

/** Refused in any query parameter: unstorable or over-long. */
const hostileQueryValue = (limits: { maxStringLength: number }) => fc.constantFrom('%00', 'a%00b', 'x'.repeat(limits.maxStringLength + 1), '%ED%A0%80%00');
/** Refused where a number, an enum value or an id is expected. */
const hostileStrictValue = fc.constantFrom('-1', '99999999999999999999', '1e400', 'NaN', '1.5', 'x');

/** Request ids a client might send: sane, absurd, missing. */
const requestIds = fc.option(fc.oneof(fc.constantFrom('req-1', 'a'.repeat(200), 'has space', 'semi;colon', 'ünïcode'), fc.uuid()), { nil: undefined });

export interface HostileRequest {
  readonly request: InjectOptions;
  readonly sentRequestId: string | undefined;
  readonly what: string;
  /** For a body with a key twice: where, so that the answer can be checked to name it. */
  readonly duplicate?: Array<string | number>;
}

export function hostileRequests(ops: Operation[], doc: Doc, limits: { maxSteps: number; maxStringLength: number; maxDepth: number }): fc.Arbitrary<HostileRequest> {
  return fc.constantFrom(...ops).chain((op) => {
    const channels: Array<fc.Arbitrary<Omit<HostileRequest, 'sentRequestId'>>> = [];
    const url = (segments: Record<string, string>, query = '') => `${op.path.replace(/\{(\w+)\}/g, (_, name: string) => segments[name] ?? '00000000-0000-4000-8000-000000000000')}${query}`;
    const validIds = fc.record(Object.fromEntries(op.pathParams.map((p) => [p, fc.uuid()])));
    // A hostile query value (any name: unknown names are checked too) — every route.
    const query = (names: string[], values: fc.Arbitrary<string>) =>
      fc.tuple(validIds, fc.constantFrom(...names), values).map(([ids, name, value]) => ({
        request: { method: op.method, url: url(ids, `?${name}=${value}`) },
        what: `query ${name}=${value.slice(0, 40)}`,
      }));
    channels.push(query([...op.query.map((q) => q.name), 'x'], hostileQueryValue(limits)), query(['__proto__', 'constructor'], fc.constantFrom('1', 'x')));
    const strict = op.query.filter((q) => q.strict).map((q) => q.name);
    if (strict.length > 0) channels.push(query(strict, hostileStrictValue));
    if (op.pathParams.length > 0) {
      channels.push(
        fc.tuple(validIds, fc.constantFrom(...op.pathParams), hostileSegment).map(([ids, name, value]) => ({
          request: { method: op.method, url: url({ ...ids, [name]: value }) },
          what: `path ${name}=${value.slice(0, 40)}`,
        })),
      );
    }
    if (op.body) {
      const base = valueOf(op.body, doc);
      channels.push(
        fc.tuple(validIds, base, hostileValue(limits), fc.nat()).map(([ids, value, hostile, pick]) => ({
          request: { method: op.method, url: url(ids), headers: { 'content-type': 'application/json' }, payload: JSON.stringify(mutate(value, hostile, pick)) },
          what: 'body with a hostile value',
        })),
        fc.tuple(validIds, rawBodies(limits)).map(([ids, raw]) => ({
          request: { method: op.method, url: url(ids), headers: { 'content-type': raw.type }, payload: raw.body },
          what: `raw ${raw.type} body`,
        })),
        fc.tuple(validIds, base, fc.jsonValue({ maxDepth: 1 }), fc.nat()).map(([ids, value, first, pick]) => {
          const { text, path } = withDuplicateKey(value, pick, first);
          return {
            request: { method: op.method, url: url(ids), headers: { 'content-type': 'application/json' }, payload: text },
            what: `body with the key ${JSON.stringify(path.at(-1))} twice`,
            duplicate: path,
          };
        }),
      );
      if (op.consumes.some((type) => type.includes('yaml'))) {
        // Too many steps: the limit plus one, each step otherwise fine.
        const steps = Array.from({ length: limits.maxSteps + 1 }, (_, i) => ({ key: `s${i}`, prompt: 'p' }));
        channels.push(fc.constant({ request: { method: op.method, url: url({}), headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ name: 'too-many', steps }) }, what: 'too many steps' }));
      }
    } else if (op.method !== 'GET') {
      channels.push(
        fc.tuple(validIds, rawBodies(limits)).map(([ids, raw]) => ({
          request: { method: op.method, url: url(ids), headers: { 'content-type': raw.type }, payload: raw.body },
          what: `raw ${raw.type} body on a route that takes none`,
        })),
      );
    }
    return fc.tuple(fc.oneof(...channels), requestIds).map(([hostile, id]) => ({
      ...hostile,
      sentRequestId: id,
      request: { ...hostile.request, headers: { ...(hostile.request.headers as Record<string, string> | undefined), ...(id === undefined ? {} : { 'x-request-id': id }) } },
    }));
  });
}
