#!/usr/bin/env node
// The `stepgate` command: runs the TypeScript sources through tsx, so a checkout needs no build.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
