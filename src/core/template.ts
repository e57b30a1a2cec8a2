import Handlebars from 'handlebars';

/**
 * Prompt templates are a safe subset of Handlebars in strict mode: a reference to a missing
 * value throws instead of rendering as an empty string. Templates see `inputs.*` (the run's
 * inputs) and `steps.<key>.*` (canonical outputs of upstream steps). Allowed: variable paths
 * (`{{inputs.region}}`, `{{this}}`, `{{@index}}` …), comments, `{{json value}}` (a value as
 * JSON), and the blocks `#if`, `#unless`, `#each`, `#with`. Everything else — `log` (a manifest
 * author could write the server's log), `lookup`, partials, inline partials, decorators,
 * named arguments and unknown helpers — is refused when the manifest is validated, with its
 * line and column.
 */

const handlebars = Handlebars.create();
handlebars.registerHelper('json', (value: unknown) => JSON.stringify(value, null, 2));
handlebars.unregisterHelper('log');
handlebars.unregisterHelper('lookup');

/** Helpers called as `{{name value}}` or `(name value)`. */
export const VALUE_HELPERS: ReadonlySet<string> = new Set(['json']);
/** Helpers opening a block, `{{#name value}}…{{/name}}`. */
export const BLOCK_HELPERS: ReadonlySet<string> = new Set(['if', 'unless', 'each', 'with']);
const KNOWN_HELPERS = Object.fromEntries([...VALUE_HELPERS, ...BLOCK_HELPERS].map((name) => [name, true]));
const ALLOWED = `templates use variable paths, {{json value}} and the blocks #if, #unless, #each, #with`;

export interface TemplateReference {
  /** As written, e.g. `steps.B.artifacts.forecast_csv.uri`. */
  readonly original: string;
  readonly parts: readonly string[];
  /** Inside or the condition of an `{{#if}}`/`{{#unless}}`: may legitimately be missing. */
  readonly conditional?: boolean;
}

export type TemplateAnalysis =
  | { ok: true; references: TemplateReference[] }
  | { ok: false; message: string };

class Refused extends Error {}

/**
 * Checks a template against the subset and finds its value references (outside blocks that
 * change the context). The first construct outside the subset is reported with its position.
 */
export function analyzeTemplate(source: string): TemplateAnalysis {
  let program: hbs.AST.Program;
  try {
    program = handlebars.parse(source);
  } catch (err) {
    return { ok: false, message: `template syntax error: ${firstLine(err)}` };
  }
  const references: TemplateReference[] = [];
  const refuse = (node: hbs.AST.Node, what: string): never => {
    throw new Refused(`${what} is not allowed (line ${node.loc.start.line}, column ${node.loc.start.column + 1}): ${ALLOWED}`);
  };
  const nameOf = (path: hbs.AST.Expression): string | undefined => (path.type === 'PathExpression' ? (path as hbs.AST.PathExpression).original : undefined);
  /** A value: a path (collected when `collect`), a literal, or a sub-expression of a value helper. */
  const value = (node: hbs.AST.Expression, collect: boolean, conditional: boolean) => {
    if (node.type === 'PathExpression') {
      const path = node as hbs.AST.PathExpression;
      if (collect && !path.data && path.depth === 0 && path.parts.length > 0) {
        references.push({ original: path.original, parts: [...path.parts], ...(conditional ? { conditional } : {}) });
      }
    } else if (node.type === 'SubExpression') {
      const sub = node as hbs.AST.SubExpression;
      call(sub, nameOf(sub.path), VALUE_HELPERS, 'sub-expression');
      sub.params.forEach((param) => value(param, collect, conditional));
    }
  };
  const call = (node: hbs.AST.MustacheStatement | hbs.AST.BlockStatement | hbs.AST.SubExpression, name: string | undefined, allowed: ReadonlySet<string>, kind: string) => {
    if (name === undefined || !allowed.has(name)) refuse(node, `the ${kind} helper ${name === undefined ? '(not a name)' : `"${name}"`}`);
    if ((node.hash?.pairs.length ?? 0) > 0) refuse(node, `named arguments (${node.hash.pairs[0]!.key}=…)`);
  };
  const visit = (body: hbs.AST.Statement[], collect: boolean, conditional: boolean) => {
    for (const statement of body) {
      switch (statement.type) {
        case 'ContentStatement':
        case 'CommentStatement':
          break;
        case 'MustacheStatement': {
          const mustache = statement as hbs.AST.MustacheStatement;
          const name = nameOf(mustache.path);
          if (mustache.params.length > 0 || (mustache.hash?.pairs.length ?? 0) > 0) {
            call(mustache, name, VALUE_HELPERS, 'value');
            mustache.params.forEach((param) => value(param, collect, conditional));
          } else if (mustache.path.type !== 'PathExpression') {
            refuse(mustache, `a literal in {{…}}`);
          } else if (name !== undefined && (VALUE_HELPERS.has(name) || BLOCK_HELPERS.has(name) || name === 'log' || name === 'lookup')) {
            refuse(mustache, `the helper "${name}" used without a value`);
          } else {
            value(mustache.path, collect, conditional);
          }
          break;
        }
        case 'BlockStatement': {
          const block = statement as hbs.AST.BlockStatement;
          const name = nameOf(block.path);
          call(block, name, BLOCK_HELPERS, 'block');
          const isCondition = name === 'if' || name === 'unless';
          block.params.forEach((param) => value(param, collect, conditional || isCondition));
          // `if` and `unless` keep the context; `each` and `with` change it, so paths inside
          // them are relative and checked only when the template renders.
          visit(block.program.body, collect && isCondition, true);
          if (block.inverse) visit(block.inverse.body, collect && isCondition, true);
          break;
        }
        case 'PartialStatement':
        case 'PartialBlockStatement':
          refuse(statement, 'a partial ({{> …}})');
          break;
        case 'DecoratorBlock':
          refuse(statement, nameOf((statement as hbs.AST.DecoratorBlock).path) === 'inline' ? 'an inline partial ({{#*inline}})' : 'a decorator block ({{#* …}})');
          break;
        default:
          refuse(statement, statement.type === 'Decorator' ? 'a decorator ({{* …}})' : `a ${statement.type}`);
      }
    }
  };
  try {
    visit(program.body, true, false);
  } catch (err) {
    if (err instanceof Refused) return { ok: false, message: err.message };
    throw err;
  }
  return { ok: true, references };
}

export interface CompiledTemplate {
  readonly source: string;
  readonly references: readonly TemplateReference[];
  render(context: Record<string, unknown>): string;
}

export class TemplateRenderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateRenderError';
  }
}

export function compileTemplate(source: string, references: readonly TemplateReference[]): CompiledTemplate {
  const template = handlebars.compile(source, {
    strict: true,
    noEscape: true,
    knownHelpers: KNOWN_HELPERS,
    knownHelpersOnly: true,
  });
  return {
    source,
    references,
    render(context) {
      const missing = references.find((ref) => !ref.conditional && lookup(context, ref.parts) === undefined);
      if (missing) {
        throw new TemplateRenderError(`{{${missing.original}}} has no value: ${describeMissing(context, missing.parts)}`);
      }
      try {
        return template(context);
      } catch (err) {
        throw new TemplateRenderError(`the template could not be rendered: ${firstLine(err)}`);
      }
    },
  };
}

/** The values a template used, by reference, as recorded in the PromptArtifact. */
export function valuesUsed(context: Record<string, unknown>, references: readonly TemplateReference[]) {
  const values: Record<string, unknown> = {};
  for (const ref of references) values[ref.original] = lookup(context, ref.parts) ?? null;
  return values;
}

export function lookup(root: unknown, parts: readonly string[]): unknown {
  let value = root;
  for (const part of parts) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function describeMissing(context: Record<string, unknown>, parts: readonly string[]): string {
  for (let i = 1; i <= parts.length; i++) {
    if (lookup(context, parts.slice(0, i)) === undefined) {
      const parent = parts.slice(0, i - 1).join('.') || 'the template context';
      return `"${parts[i - 1]}" is missing from ${parent}`;
    }
  }
  return 'the value is missing';
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}
