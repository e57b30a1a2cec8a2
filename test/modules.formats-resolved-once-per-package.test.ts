import { execFileSync } from 'node:child_process';
import module from 'node:module';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { transpileSources } from './support/transpiled-server.js';

/**
 * src/module-formats.ts answers relative imports itself (Node's loader re-parses a package's
 * package.json for every file it loads, on the Node versions with module.registerHooks). What
 * it answers must be what Node answers: each file's format from the nearest package.json, a
 * file reached through a symlink being one module of its own package's format, a missing file an ERR_MODULE_NOT_FOUND.
 */
describe('module formats answered by stepgate itself', () => {
  const root = mkdtempSync(join(tmpdir(), 'stepgate-formats-'));
  const sources = transpileSources();
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
    sources.remove();
  });
  const files: Record<string, string> = {
    'package.json': '{"type":"module"}',
    'main.js': `
      import b from './cjs/b.js';
      import c from './c.mjs';
      import { d } from './sub/d.js';
      import real from './real.js';
      import linked from './link.js';
      import e from './cjs/e.cjs';
      import viaLink from './f-link.js';
      let missing;
      try { await import('./missing.js'); } catch (err) { missing = err.code; }
      console.log(JSON.stringify({ b, c, d, sameModule: real === linked, e, viaLink, missing, hooked: typeof (await import('node:module')).default.registerHooks === 'function' }));`,
    'cjs/package.json': '{"type":"commonjs"}',
    'cjs/b.js': "module.exports = typeof require === 'function' ? 'commonjs' : 'module';",
    'cjs/e.cjs': "module.exports = 'cjs';",
    'cjs/f.js': "module.exports = typeof require === 'function' ? 'commonjs' : 'module';",
    'c.mjs': "export default 'mjs';",
    'sub/d.js': "export const d = typeof require === 'undefined' ? 'module' : 'commonjs';",
    'real.js': 'export default {};',
  };
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, name)), { recursive: true });
    writeFileSync(join(root, name), text);
  }
  symlinkSync(join(root, 'real.js'), join(root, 'link.js'));
  // A link in a "module" scope to a file of a "commonjs" one: the file's own scope decides.
  symlinkSync(join(root, 'cjs', 'f.js'), join(root, 'f-link.js'));

  const load = (withHooks: boolean) => {
    const entry = withHooks
      ? `import { cacheModuleFormats } from ${JSON.stringify(pathToFileURL(join(sources.dir, 'module-formats.js')).href)}; cacheModuleFormats(); await import(${JSON.stringify(pathToFileURL(join(root, 'main.js')).href)});`
      : `await import(${JSON.stringify(pathToFileURL(join(root, 'main.js')).href)});`;
    return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', entry], { encoding: 'utf8' })) as Record<string, unknown>;
  };

  it("loads every file as Node's own resolution does", () => {
    const expected = { b: 'commonjs', c: 'mjs', d: 'module', sameModule: true, e: 'cjs', viaLink: 'commonjs', missing: 'ERR_MODULE_NOT_FOUND' };
    expect(load(false)).toEqual({ ...expected, hooked: typeof (module as { registerHooks?: unknown }).registerHooks === 'function' });
    expect(load(true)).toEqual(load(false));
  });
});
