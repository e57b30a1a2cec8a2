/**
 * JSON.parse keeps the last of two equal keys without a word; stepgate refuses them in every
 * JSON body (SPEC §11: an attestation with `outcome` twice must not be read as whichever came
 * last), as the YAML parser refuses them in manifests. One linear pass over text that
 * JSON.parse accepted, with no recursion (any nesting is fine): a stack of the open objects
 * (the keys seen, the current one) and arrays (the current index).
 *
 * Libraries that refuse duplicate keys either parse JSON again in JavaScript, recursively
 * (a deep body exhausts the stack), or are unmaintained; JSON.parse plus this scan keeps
 * V8's parser for the value.
 */
export interface DuplicateKey {
  readonly key: string;
  /** Where the second occurrence starts in the text. */
  readonly offset: number;
  /** From the body's root to the duplicate key, e.g. `['artifacts', 0, 'name']`. */
  readonly path: ReadonlyArray<string | number>;
}

type Frame = { keys: Set<string>; key: string | undefined } | { index: number };

export function duplicateKey(text: string): DuplicateKey | undefined {
  const stack: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */) stack.push({ keys: new Set(), key: undefined });
    else if (c === 0x5b /* [ */) stack.push({ index: 0 });
    else if (c === 0x7d /* } */ || c === 0x5d /* ] */) stack.pop();
    else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top && 'index' in top) top.index++;
    } else if (c === 0x22 /* " */) {
      const start = i;
      let escaped = false;
      for (i++; text.charCodeAt(i) !== 0x22; i++) {
        if (text.charCodeAt(i) === 0x5c /* \ */) [i, escaped] = [i + 1, true];
      }
      const top = stack[stack.length - 1];
      if (!top || 'index' in top) continue;
      let j = i + 1;
      while (isJsonSpace(text.charCodeAt(j))) j++;
      if (text.charCodeAt(j) !== 0x3a /* : */) continue;
      const key = escaped ? (JSON.parse(text.slice(start, i + 1)) as string) : text.slice(start + 1, i);
      if (top.keys.has(key)) {
        const path = stack.slice(0, -1).map((frame) => ('index' in frame ? frame.index : frame.key!));
        return { key, offset: start, path: [...path, key] };
      }
      top.keys.add(key);
      top.key = key;
    }
  }
  return undefined;
}

function isJsonSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}
