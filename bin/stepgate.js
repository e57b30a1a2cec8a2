#!/usr/bin/env node
// The `stepgate` command. It runs the compiled build (dist/, made by `npm ci` and `npm start`)
// when it is current, and the TypeScript sources through tsx when a source is newer, so a
// checkout being edited never runs stale code.
import { existsSync, readdirSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);
const buildInfo = new URL('dist/.tsbuildinfo', root);

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const url = new URL(entry.name + (entry.isDirectory() ? '/' : ''), dir);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(url) : statSync(url).mtimeMs);
  }
  return newest;
}

if (existsSync(buildInfo) && existsSync(new URL('dist/main.js', root)) && newestSource(new URL('src/', root)) <= statSync(buildInfo).mtimeMs) {
  await import('../dist/main.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
