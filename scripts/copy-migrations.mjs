// The build's last step: the SQL migrations travel with the compiled code (dist/storage/migrations),
// where storage/database.ts looks for them relative to itself.
import { cpSync, rmSync } from 'node:fs';

const from = new URL('../src/storage/migrations/', import.meta.url);
const to = new URL('../dist/storage/migrations/', import.meta.url);
rmSync(to, { recursive: true, force: true });
cpSync(from, to, { recursive: true });
