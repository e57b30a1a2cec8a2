import { CST, isMap, isScalar, isSeq, Lexer, LineCounter, parseDocument, visit, type Node } from 'yaml';
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

export interface ParseOptions {
  /** Nesting beyond this is refused before the document is composed (STEPGATE_MAX_DEPTH). */
  readonly maxDepth?: number;
  /** What the text is, in error messages (default "The manifest"; the providers file names itself). */
  readonly subject?: string;
}

/** Aliases a document may expand; more is an alias bomb ("billion laughs"). */
const MAX_ALIAS_COUNT = 100;

/**
 * Parses manifest text (YAML, or JSON, which YAML 1.2 reads too) keeping source positions so
 * that problems can be reported as `file:line:column`. Refused as malformed, with a position:
 * duplicate keys, several documents, any explicit tag (`!foo`, `!!binary`), an alias bomb,
 * and nesting deeper than the limit (checked by a linear scan of the tokens first, because
 * the composer recurses and a deep enough document would exhaust its stack).
 */
export function parseManifestSource(text: string, options: ParseOptions = {}): ParsedSource {
  const subject = options.subject ?? 'The manifest';
  const malformed = (at: string, offset: number, message: string) => malformedAt(subject, at, offset, message);
  const lineCounter = new LineCounter();
  const tooDeep = options.maxDepth === undefined ? undefined : deepestOffset(text, options.maxDepth);
  if (tooDeep !== undefined) {
    throw malformed(text, tooDeep, `nested deeper than the limit of ${options.maxDepth} levels (STEPGATE_MAX_DEPTH)`);
  }
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const message =
      first.code === 'MULTIPLE_DOCS'
        ? `it holds several YAML documents (---); ${options.subject === undefined ? 'send one manifest per request' : 'write one document'}`
        : first.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw malformed(text, first.pos[0], message);
  }
  let tagged: Node | undefined;
  visit(doc, {
    Node(_, node) {
      if (node.tag === undefined) return undefined;
      tagged = node;
      return visit.BREAK;
    },
  });
  if (tagged) throw malformed(text, tagged.range?.[0] ?? 0, `the tag ${tagged.tag} is not supported: write plain YAML or JSON, without tags`);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    if (!(err instanceof ReferenceError)) throw err;
    throw new MalformedBodyError(`${subject} is not valid YAML or JSON: its aliases expand beyond the limit of ${MAX_ALIAS_COUNT} (an alias bomb?); write the values out.`);
  }
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

function malformedAt(subject: string, text: string, offset: number, message: string): MalformedBodyError {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return new MalformedBodyError(`${subject} is not valid YAML or JSON at line ${line}, column ${column}: ${message}`);
}

/** Lexer markers that stand for no source text. */
const ZERO_WIDTH = new Set(['\u0002', '\u0018', '\u001f']);

/**
 * The offset where nesting first exceeds `maxDepth`, in one pass over the lexer's tokens:
 * flow collections (`[`, `{`), compact indicators (`- - -`) and block indentation (a stack of
 * indents). It may count a level or two more than the composed value has, never fewer; the
 * exact limit is enforced on the value afterwards.
 */
export function deepestOffset(text: string, maxDepth: number): number | undefined {
  const bound = maxDepth + 2;
  const indents: number[] = [];
  let flow = 0;
  let compact = 0;
  let lineIndent = 0;
  let atLineStart = true;
  let scalarNext = false;
  let offset = 0;
  let start = 0;
  let deepest: number | undefined;
  const content = () => {
    if (atLineStart && flow === 0) {
      while (indents.length > 0 && indents[indents.length - 1]! >= lineIndent) indents.pop();
      indents.push(lineIndent);
    }
    atLineStart = false;
  };
  const tooDeep = () => indents.length + compact + flow > bound;
  for (const token of new Lexer().lex(text)) {
    if (deepest !== undefined) break;
    start = offset;
    if (!ZERO_WIDTH.has(token)) offset += token.length;
    if (scalarNext) {
      scalarNext = false;
      content();
      if (tooDeep()) deepest = start;
      if (token.endsWith('\n')) [atLineStart, compact, lineIndent] = [true, 0, 0];
      continue;
    }
    switch (CST.tokenType(token)) {
      case 'scalar':
        scalarNext = true;
        continue;
      case 'newline':
        [atLineStart, compact, lineIndent] = [true, 0, 0];
        continue;
      case 'space':
        if (atLineStart) lineIndent = token.length;
        continue;
      case 'comment':
      case 'doc-mode':
      case 'doc-start':
      case 'doc-end':
      case 'directive-line':
      case 'byte-order-mark':
        continue;
      case 'seq-item-ind':
      case 'explicit-key-ind':
        content();
        if (flow === 0) compact++;
        break;
      case 'flow-seq-start':
      case 'flow-map-start':
        content();
        flow++;
        break;
      case 'flow-seq-end':
      case 'flow-map-end':
        flow = Math.max(0, flow - 1);
        continue;
      default:
        content();
        break;
    }
    if (tooDeep()) deepest = start;
  }
  return deepest;
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
