import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { MalformedBodyError } from '../errors.js';

export interface SourcePosition {
  line: number;
  column: number;
}

export interface ParsedSource {
  value: unknown;
  /** Where a path (`steps[1].compute_contract`) starts in the source, or its nearest parent. */
  locate(path: string): SourcePosition | undefined;
}

/**
 * Parses manifest text (YAML, or JSON, which YAML 1.2 reads too) keeping source positions so
 * that problems can be reported as `file:line:column`. Duplicate keys are a parse error.
 */
export function parseManifestSource(text: string): ParsedSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const where = first.linePos?.[0];
    const at = where ? ` at line ${where.line}, column ${where.col}` : '';
    throw new MalformedBodyError(`The manifest is not valid YAML or JSON${at}: ${first.message.split('\n')[0]}`);
  }
  const value: unknown = doc.toJS({ maxAliasCount: 100 });
  return {
    value,
    locate(path) {
      let node: unknown = doc.contents;
      let found: Node | undefined = isNode(node) ? node : undefined;
      for (const segment of splitPath(path)) {
        if (isMap(node)) {
          const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === segment);
          if (!pair) break;
          node = pair.value ?? pair.key;
        } else if (isSeq(node) && typeof segment === 'number') {
          node = node.items[segment];
        } else {
          break;
        }
        if (isNode(node)) found = node;
        else break;
      }
      const offset = found?.range?.[0];
      if (offset === undefined) return undefined;
      const { line, col } = lineCounter.linePos(offset);
      return { line, column: col };
    },
  };
}

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && 'range' in value;
}

/** `steps[1].compute_contract.inputs[0]` → ['steps', 1, 'compute_contract', 'inputs', 0] */
export function splitPath(path: string): Array<string | number> {
  const out: Array<string | number> = [];
  for (const match of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    if (match[2] !== undefined) out.push(Number(match[2]));
    else if (match[1] !== undefined) out.push(match[1]);
  }
  return out;
}

/** ['steps', 1, 'compute_contract'] → `steps[1].compute_contract` */
export function formatPath(segments: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out;
}
