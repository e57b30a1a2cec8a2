#!/usr/bin/env node
// The `stepgate` command. It runs the compiled build (dist/, made by `npm ci` and `npm start`)
// when it is current, and the TypeScript sources through tsx when a source is newer, so a
// checkout being edited never runs stale code.
import { buildIsCurrent } from '../scripts/build-state.mjs';

if (buildIsCurrent()) {
  await import('../dist/main.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
