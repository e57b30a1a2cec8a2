// Fails when src/storage/schema.ts has changes that no migration holds yet.
import { spawnSync } from 'node:child_process';

const result = spawnSync('npx', ['--no-install', 'drizzle-kit', 'generate'], { encoding: 'utf8' });
const output = `${result.stdout}${result.stderr}`;
if (result.status !== 0 || !output.includes('No schema changes')) {
  console.error(output);
  console.error('src/storage/schema.ts and the migrations differ: run `npm run generate`, review the new migration and commit it.');
  process.exit(1);
}
console.log('migrations are current');
