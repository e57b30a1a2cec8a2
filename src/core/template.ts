import Handlebars from 'handlebars';

/**
 * Prompt templates are Handlebars in strict mode: a reference to a missing value throws
 * instead of rendering as an empty string. Templates see `inputs.*` (the run's inputs) and
 * `steps.<key>.*` (canonical outputs of upstream steps). `{{json x}}` renders a value as JSON.
 */

const handlebars = Handlebars.create();
handlebars.registerHelper('json', (value: unknown) => JSON.stringify(value, null, 2));
const KNOWN_HELPERS = { json: true } as const;

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

/** Finds the value references in a template (outside blocks that change the context). */
export function analyzeTemplate(source: string): TemplateAnalysis {
  let program: hbs.AST.Program;
  try {
    program = handlebars.parse(source);
  } catch (err) {
    return { ok: false, message: `template syntax error: ${firstLine(err)}` };
  }
  const references: TemplateReference[] = [];
  const addPath = (node: hbs.AST.Expression, conditional = false) => {
    if (node.type === 'PathExpression') {
      const path = node as hbs.AST.PathExpression;
      if (!path.data && path.depth === 0 && path.parts.length > 0) {
        references.push({ original: path.original, parts: [...path.parts], ...(conditional ? { conditional } : {}) });
      }
    } else if (node.type === 'SubExpression') {
      const sub = node as hbs.AST.SubExpression;
      sub.params.forEach((param) => addPath(param));
      sub.hash?.pairs.forEach((pair) => addPath(pair.value));
    }
  };
  const visit = (body: hbs.AST.Statement[], conditional: boolean) => {
    for (const statement of body) {
      if (statement.type === 'MustacheStatement') {
        const mustache = statement as hbs.AST.MustacheStatement;
        const isHelperCall = mustache.params.length > 0 || (mustache.hash?.pairs.length ?? 0) > 0;
        if (isHelperCall) {
          mustache.params.forEach((param) => addPath(param, conditional));
          mustache.hash?.pairs.forEach((pair) => addPath(pair.value, conditional));
        } else {
          addPath(mustache.path, conditional);
        }
      } else if (statement.type === 'BlockStatement') {
        const block = statement as hbs.AST.BlockStatement;
        const helper = (block.path as hbs.AST.PathExpression).original;
        const isCondition = helper === 'if' || helper === 'unless';
        block.params.forEach((param) => addPath(param, conditional || isCondition));
        // `if` and `unless` keep the context; `each` and `with` change it, so paths inside
        // them are relative and checked only when the template renders.
        if (isCondition) {
          visit(block.program.body, true);
          if (block.inverse) visit(block.inverse.body, true);
        }
      }
    }
  };
  visit(program.body, false);
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
    knownHelpersOnly: false,
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
