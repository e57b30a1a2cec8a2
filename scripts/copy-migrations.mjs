// The build's last step: the SQL migrations travel with the compiled code (dist/storage/migrations),
// where storage/database.ts looks for them relative to itself. Then the build is stamped as
// finished (dist/.tsbuildinfo's time; an incremental tsc that found nothing to do leaves it
// alone), which is what scripts/build-state.mjs compares the sources with.
import { cpSync, rmSync, utimesSync } from 'node:fs';

const from = new URL('../src/storage/migrations/', import.meta.url);
const to = new URL('../dist/storage/migrations/', import.meta.url);
rmSync(to, { recursive: true, force: true });
cpSync(from, to, { recursive: true });
const now = new Date();
utimesSync(new URL('../dist/.tsbuildinfo', import.meta.url), now, now);
