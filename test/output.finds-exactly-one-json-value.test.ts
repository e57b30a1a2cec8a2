import { describe, expect, it } from 'vitest';
import { findJson } from '../src/core/json-in-text.js';
import { parseReply } from '../src/core/output.js';

const value = (reply: string) => {
  const found = findJson(reply);
  if (!found.ok) throw new Error(`expected a value, got: ${found.message}`);
  return found.value;
};
const refusal = (reply: string) => {
  const found = findJson(reply);
  if (found.ok) throw new Error(`expected a refusal, got ${JSON.stringify(found.value)}`);
  return found.message;
};

describe('a JSON reply is the one JSON value in it, never a guess', () => {
  it('takes a reply that is JSON as a whole, scalars included', () => {
    expect(value('  {"a": [1, {"b": "}"}]}\n')).toEqual({ a: [1, { b: '}' }] });
    expect(value('42')).toBe(42);
    expect(value('"text"')).toBe('text');
  });

  it('takes the one object in prose, skipping brackets that are not JSON', () => {
    expect(value('Sure [see notes]! Here it is: {"score": 0.9, "why": "a {brace} in a string"} Hope that helps.')).toEqual({
      score: 0.9,
      why: 'a {brace} in a string',
    });
    expect(value('The list: [1, 2, 3].')).toEqual([1, 2, 3]);
  });

  it('takes the one fenced block, even with JSON-looking prose around it', () => {
    expect(value('Example: {"score": 0}\n```json\n{"score": 1}\n```')).toEqual({ score: 1 });
    expect(refusal('```json\n{"score": 1,}\n```')).toMatch(/fenced code block is not valid JSON/);
    expect(refusal('```json\n{"a": 1}\n```\nor\n```json\n{"a": 2}\n```')).toMatch(/2 fenced code blocks; expected exactly one/);
  });

  it('removes <think> blocks first, closed, or opened in the prompt', () => {
    expect(value('<think>Maybe {"score": 0}? No: [1]. Let me answer.</think>\n{"score": 1}')).toEqual({ score: 1 });
    expect(value('<THINKING>{"x": 1}</THINKING> The answer: {"score": 2}')).toEqual({ score: 2 });
    expect(value('reasoning with {"draft": true} </think>{"score": 3}')).toEqual({ score: 3 });
    expect(refusal('<think>Still thinking about {"score": 1} and')).toMatch(/ends inside a <think> block/);
    expect(refusal('<think>{"score": 1}</think>')).toMatch(/empty once <think> blocks are removed/);
  });

  it('refuses several values instead of taking the wrong braces', () => {
    expect(refusal('Either {"score": 1} or {"score": 2}.')).toMatch(/holds 2 JSON values in its text; expected exactly one/);
    expect(refusal('{"a": 1}\n{"b": 2}')).toMatch(/holds 2 JSON values/);
  });

  it('refuses a reply with no JSON value, naming the parse error when something looked like JSON', () => {
    expect(refusal('I cannot answer that.')).toMatch(/holds no JSON value/);
    expect(refusal('Here: {"score": 1,}')).toMatch(/holds no valid JSON value \(the first bracketed text is not JSON: /);
  });

  it('checks the value against the schema after finding it; text output stays as is', () => {
    const check = (v: unknown) => ((v as { score?: unknown }).score === 1 ? [] : [{ path: '/score', message: 'must be 1' }]);
    expect(parseReply('<think>hm</think>{"score": 1}', { format: 'json' }, check)).toEqual({ ok: true, value: { score: 1 } });
    expect(parseReply('{"score": 2}', { format: 'json' }, check)).toMatchObject({ ok: false, error: { message: expect.stringContaining('/score must be 1') } });
    expect(parseReply('<think>x</think> {"a": 1}', { format: 'text' })).toEqual({ ok: true, value: '<think>x</think> {"a": 1}' });
  });
});
