import { existsSync, readFileSync, realpathSync } from 'node:fs';
import module from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * Node's ESM loader learns the format of every file it imports from the `type` of the nearest
 * package.json — and on the Node versions that offer `module.registerHooks` (22.15 and later)
 * it parses that package.json again for every file, whole. drizzle-orm's is 179 KB and the
 * server imports hundreds of its files: on Node 26 `stepgate serve` spent 0.6 s of its 1.6 s
 * start there (0.9 s on Node 20, whose loader caches the parse). This resolve hook answers
 * relative imports between files of one package itself, each package.json read once; anything
 * else (bare specifiers, `exports` maps, require(), a file that is not there) goes to Node's
 * own resolution as before. Node 20 has no `registerHooks` and needs none.
 */

interface ResolveContext {
  readonly conditions?: readonly string[];
  readonly parentURL?: string;
}
interface ResolveResult {
  readonly url: string;
  readonly format?: string | null;
  readonly shortCircuit?: boolean;
}
type RegisterHooks = (hooks: {
  resolve(specifier: string, context: ResolveContext, nextResolve: (specifier: string, context?: ResolveContext) => ResolveResult): ResolveResult;
}) => unknown;

/** The `type` of the package.json nearest to each directory asked about (null: none says "module"). */
const scopeTypes = new Map<string, string | null>();

function scopeType(directory: string): string | null {
  const known = scopeTypes.get(directory);
  if (known !== undefined) return known;
  let type: string | null;
  const manifest = join(directory, 'package.json');
  if (existsSync(manifest)) {
    try {
      const parsed = JSON.parse(readFileSync(manifest, 'utf8')) as { type?: unknown };
      type = typeof parsed.type === 'string' ? parsed.type : null;
    } catch {
      type = null;
    }
  } else {
    const parent = dirname(directory);
    type = parent === directory ? null : scopeType(parent);
  }
  scopeTypes.set(directory, type);
  return type;
}

function formatOf(path: string): 'module' | 'commonjs' | undefined {
  if (path.endsWith('.mjs')) return 'module';
  if (path.endsWith('.cjs')) return 'commonjs';
  if (path.endsWith('.js')) return scopeType(dirname(path)) === 'module' ? 'module' : 'commonjs';
  return undefined;
}

export function cacheModuleFormats(): void {
  const registerHooks = (module as unknown as { registerHooks?: RegisterHooks }).registerHooks;
  if (!registerHooks) return;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const { parentURL } = context;
      const relative = specifier.startsWith('./') || specifier.startsWith('../');
      if (!relative || !parentURL?.startsWith('file:') || /[?#%]/.test(specifier) || !context.conditions?.includes('import')) {
        return nextResolve(specifier, context);
      }
      let path: string;
      try {
        // Where the file really is, as Node's resolution answers it (one module per file); its
        // format is that of the package the file is in, not of the link's.
        path = realpathSync.native(fileURLToPath(new URL(specifier, parentURL)));
      } catch {
        return nextResolve(specifier, context); // not there: Node says so its own way
      }
      const format = formatOf(path);
      if (!format) return nextResolve(specifier, context);
      return { url: pathToFileURL(path).href, format, shortCircuit: true };
    },
  });
}
