// Whether dist/ is the build of the current sources: dist/.tsbuildinfo (touched by the build's
// last step) is newer than every file under src/ and than what configures the compiler.
// Shared by bin/stepgate.js (run the build or the sources) and scripts/build-if-stale.mjs.
import { existsSync, readdirSync, statSync } from 'node:fs';

const root = new URL('../', import.meta.url);
export const BUILD_STAMP = new URL('dist/.tsbuildinfo', root);
const INPUTS = ['tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];

function newestIn(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const url = new URL(entry.name + (entry.isDirectory() ? '/' : ''), dir);
    newest = Math.max(newest, entry.isDirectory() ? newestIn(url) : statSync(url).mtimeMs);
  }
  return newest;
}

export function buildIsCurrent() {
  if (!existsSync(BUILD_STAMP) || !existsSync(new URL('dist/main.js', root))) return false;
  const inputs = INPUTS.map((name) => new URL(name, root)).filter((url) => existsSync(url));
  // The console (web/) is built by the same `npm run build`, after the server.
  const web = new URL('web/', root);
  const consoleBuilt = existsSync(new URL('dist/console/index.html', root));
  if (existsSync(web) && !consoleBuilt) return false;
  const newest = Math.max(newestIn(new URL('src/', root)), existsSync(web) ? newestIn(web) : 0, ...inputs.map((url) => statSync(url).mtimeMs));
  return newest <= statSync(BUILD_STAMP).mtimeMs;
}
