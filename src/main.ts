import { Command, CommanderError } from 'commander';
import { EXIT, exitCodeOf } from './cli/exit-codes.js';
import { migrateCommand, serveCommand } from './cli/server-commands.js';
import { readConfig } from './config.js';
import { isStepgateError } from './core/errors.js';

/** Composition root: reads the configuration, wires storage, providers and the API. */

const say = (line: string) => process.stderr.write(`${line}\n`);

const program = new Command('stepgate')
  .description('Runs LLM pipelines that stop at work no LLM can do, and resume once an operator attests it.')
  .exitOverride()
  .showHelpAfterError();

program
  .command('serve')
  .description('Apply pending migrations, then serve the HTTP API on HOST:PORT (what `npm start` runs).')
  .action(async () => serveCommand(readConfig(), say));

program
  .command('migrate')
  .description('Apply pending migrations to the configured database and exit; a no-op when current.')
  .action(async () => migrateCommand(readConfig(), say));

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.invalidInput;
  } else if (isStepgateError(err)) {
    say(`stepgate: ${err.message}`);
    process.exitCode = exitCodeOf(err);
  } else {
    say(`stepgate: ${connectionHint(err) ?? (err instanceof Error ? err.message : String(err))}`);
    process.exitCode = connectionHint(err) ? EXIT.unreachable : EXIT.failure;
  }
}

function connectionHint(err: unknown): string | undefined {
  const code = (err as { code?: unknown }).code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === '3D000' || code === '28P01') {
    return `cannot reach the database at DATABASE_URL (${String(code)}: ${(err as Error).message}). Is PostgreSQL running, and does the database exist?`;
  }
  if (code === 'EADDRINUSE') return `the port is taken (${(err as Error).message}); set PORT to a free port.`;
  return undefined;
}
