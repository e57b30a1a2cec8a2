/**
 * Finds the one JSON value in an LLM reply, or says clearly why there is not exactly one.
 * The rule (README "Step outputs"), in order:
 * 1. `<think>…</think>` (and `<thinking>…</thinking>`) blocks are removed; a reply that has a
 *    closing tag without an opening one loses everything up to it (some chat templates open
 *    the block in the prompt).
 * 2. What is left, parsed as a whole, if it is JSON.
 * 3. Otherwise a fenced code block (```json or ```): exactly one must be there, holding JSON.
 * 4. Otherwise the objects and arrays in the prose: exactly one balanced `{…}` or `[…]` that
 *    parses as JSON. Several are an error, never a guess.
 */
export type FoundJson = { ok: true; value: unknown } | { ok: false; message: string };

const THINK_BLOCK = /<(think|thinking)>[\s\S]*?<\/\1>/gi;
const UNOPENED_THINK_END = /^[\s\S]*<\/(?:think|thinking)>/i;
const UNCLOSED_THINK = /<(?:think|thinking)>/i;
const FENCE = /```([A-Za-z0-9_-]*)[ \t]*\r?\n([\s\S]*?)```/g;

export function findJson(reply: string): FoundJson {
  let text = reply.replace(THINK_BLOCK, '');
  text = text.replace(UNOPENED_THINK_END, '');
  if (UNCLOSED_THINK.test(text)) {
    return { ok: false, message: 'the reply ends inside a <think> block, with no JSON after it (was it cut off?)' };
  }
  text = text.trim();
  if (text === '') return { ok: false, message: 'the reply holds no JSON value (it is empty once <think> blocks are removed)' };

  const whole = tryParse(text);
  if (whole.ok) return whole;

  const fences = [...text.matchAll(FENCE)].filter((m) => m[1] === '' || m[1]!.toLowerCase() === 'json');
  if (fences.length > 1) {
    return { ok: false, message: `the reply holds ${fences.length} fenced code blocks; expected exactly one JSON value` };
  }
  if (fences.length === 1) {
    const fenced = tryParse(fences[0]![2]!.trim());
    return fenced.ok ? fenced : { ok: false, message: `the fenced code block is not valid JSON: ${fenced.message}` };
  }

  const values: unknown[] = [];
  let firstError: string | undefined;
  for (let start = 0; start < text.length; start++) {
    const char = text[start];
    if (char !== '{' && char !== '[') continue;
    const end = closingBracket(text, start);
    if (end === undefined) continue;
    const candidate = tryParse(text.slice(start, end + 1));
    if (candidate.ok) {
      values.push(candidate.value);
      start = end;
    } else firstError ??= candidate.message;
  }
  if (values.length === 1) return { ok: true, value: values[0] };
  if (values.length > 1) {
    return { ok: false, message: `the reply holds ${values.length} JSON values in its text; expected exactly one (ask for the JSON alone, or use a schema)` };
  }
  return {
    ok: false,
    message: firstError
      ? `the reply holds no valid JSON value (the first bracketed text is not JSON: ${firstError})`
      : 'the reply holds no JSON value (expected JSON, alone or in one ```json fence)',
  };
}

function tryParse(text: string): FoundJson {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}

/** The index of the bracket that closes the one at `start`, skipping JSON strings; undefined if unbalanced. */
function closingBracket(text: string, start: number): number | undefined {
  const stack: string[] = [];
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      if (char === '\\') i++;
      else if (char === '"') inString = false;
      continue;
    }
    if (char === '"') inString = true;
    else if (char === '{') stack.push('}');
    else if (char === '[') stack.push(']');
    else if (char === '}' || char === ']') {
      if (stack.pop() !== char) return undefined;
      if (stack.length === 0) return i;
    }
  }
  return undefined;
}
