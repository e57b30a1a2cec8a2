import { Command, CommanderError, Option } from 'commander';
import { registerAccessCommands } from './cli/access-commands.js';
import { cliToken } from './cli/admin-token.js';
import { ApiClient, CliError } from './cli/client.js';
import { attestCommand } from './cli/commands/attest.js';
import { cancelCommand, planCommand, retryCommand } from './cli/commands/lifecycle.js';
import { inboxCommand, resumeCommand, runCommand, runsCommand, statusCommand } from './cli/commands/runs.js';
import { keysListCommand, keysRotateCommand } from './cli/commands/keys.js';
import { provenanceCommand } from './cli/commands/provenance.js';
import { EXIT, exitCodeOf } from './cli/exit-codes.js';
import { createOutput } from './cli/output.js';
import { RUN_STATUSES } from './core/lifecycle.js';
import { isStepgateError } from './core/errors.js';
import { cacheModuleFormats } from './module-formats.js';

/**
 * Composition root and the `stepgate` command. `serve` and `migrate` open the database; every
 * other command is a client of the HTTP API at STEPGATE_URL (default http://127.0.0.1:8080).
 * The server, the manifest rules and the verifier are imported when their command runs: a
 * client command then starts in a fraction of the second that loading all of them takes.
 */

cacheModuleFormats();

const say = (line: string) => process.stderr.write(`${line}\n`);
// `stepgate runs | head`: a reader that goes away is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

const program = new Command('stepgate')
  .description('Runs LLM pipelines that stop at work no LLM can do, and resume once an operator attests it.')
  .option('--json', 'machine-readable output (stable JSON on stdout)')
  .option('--url <url>', 'the stepgate server (default: STEPGATE_URL or http://127.0.0.1:8080)')
  .exitOverride()
  .showHelpAfterError()
  .addHelpText(
    'after',
    `
Examples:
  $ stepgate serve                                    # API on http://127.0.0.1:8080 (embedded PostgreSQL)
  $ stepgate validate examples/*.yaml
  $ stepgate run examples/quarterly-forecast.yaml --input region=EMEA
  $ stepgate inbox
  $ stepgate attest RUN_ID B --outcome SUCCESS --artifact forecast_csv=./forecast.csv
  $ stepgate resume RUN_ID
  $ stepgate watch RUN_ID                             # follow a run until it waits or ends
  $ stepgate plan RUN_ID                              # what resume or retry would do
  $ stepgate retry RUN_ID                             # a new attempt for the failed steps
  $ stepgate cancel RUN_ID --reason "superseded"
  $ stepgate token create --name ana --role operator --expires 90d
  $ stepgate providers                                # the LLM providers manifests may name
  $ stepgate provenance RUN_ID --out audit/
  $ stepgate verify audit/B.attempt-1.intoto.json forecast.csv --key audit/keys.json

Token: STEPGATE_TOKEN, else <STEPGATE_DATA_DIR>/admin-token (default ./.stepgate), written by the server's first start.
Exit codes: 0 ok, 1 unexpected failure, 2 invalid input, 3 conflict, 4 not found, 5 server or database unreachable,
6 not authorized (missing, unknown, expired or revoked token, or a role too low),
7 a signature does not verify (stepgate verify), 8 a file differs from the statement (stepgate verify),
9 the run ended in error, 10 the run was cancelled (run, resume, retry and watch RUN; a run that waits for
an attestation or succeeds is 0).`,
  );

const out = () => createOutput({ json: Boolean(program.opts().json) });
const api = () => new ApiClient(program.opts().url ?? process.env.STEPGATE_URL ?? 'http://127.0.0.1:8080', cliToken());
let exitCode: number = EXIT.ok;

program
  .command('serve')
  .description('Apply pending migrations, then serve the HTTP API on HOST:PORT (what `npm start` runs).')
  .action(async () => {
    const [{ serveCommand }, { readConfig }] = await Promise.all([import('./cli/server-commands.js'), import('./config.js')]);
    await serveCommand(readConfig());
  });

program
  .command('migrate')
  .description('Apply pending migrations to the configured database and exit; a no-op when current.')
  .action(async () => {
    const [{ migrateCommand }, { readConfig }] = await Promise.all([import('./cli/server-commands.js'), import('./config.js')]);
    await migrateCommand(readConfig(), say);
  });

program
  .command('validate')
  .description('Check manifest files offline, with the server rules; problems as file:line:column.')
  .argument('<files...>', 'manifest files (YAML or JSON)')
  .addHelpText('after', '\nExample:\n  $ stepgate validate examples/quarterly-forecast.yaml')
  .action(async (files: string[]) => {
    const [{ validateCommand }, { providerNames }] = await Promise.all([import('./cli/commands/validate.js'), import('./config.js')]);
    exitCode = validateCommand(files, out(), providerNames());
  });

program
  .command('run')
  .description('Start a run of a manifest file (stored first if needed) or of a stored manifest id.')
  .argument('<manifest>', 'a manifest file, or the id of a stored manifest')
  .option('-i, --input <key=value...>', 'an input: key=value (a string) or key:=json (a JSON value)')
  .option('--inputs <file.json>', 'inputs from a JSON object file (--input wins)')
  .option('--progress', 'show each step as it starts and ends (the default): a spinner on a terminal, plain lines elsewhere')
  .option('--no-progress', 'one request; show the run only once it waits or ends')
  .addHelpText('after', '\nExamples:\n  $ stepgate run examples/quarterly-forecast.yaml --input region=EMEA\n  $ stepgate run MANIFEST_ID --inputs inputs.json --input year:=2026')
  .action(async (manifest: string, options: { input?: string[]; inputs?: string; progress?: boolean }) => {
    exitCode = await runCommand(api(), out(), manifest, options);
  });

// `stepgate runs` is `stepgate runs list`: each subcommand owns its options (--status of a list
// is one status; of an export or a prune, several), so the parent has none of its own.
const runs = program.command('runs').description('Runs: list them (the default), export them with their record, prune the final ones.');
runs
  .command('list', { isDefault: true })
  .description('List runs, newest first, a page at a time (the next page: the --cursor it prints).')
  .addOption(new Option('--status <status>', 'only runs with this status, or stalled (running, lease expired)').choices([...RUN_STATUSES, 'stalled']))
  .option('--manifest <id>', 'only runs of this manifest')
  .option('--limit <n>', 'how many', '50')
  .option('--cursor <cursor>', 'the page after the one that printed this cursor (same filters)')
  .option('--count', 'also count every matching run (reads them all)')
  .action(async (options: { status?: string; manifest?: string; limit?: string; cursor?: string; count?: boolean }) => {
    exitCode = await runsCommand(api(), out(), options);
  });
runs
  .command('export')
  .description('Export runs with their whole record (step runs, evidence, attestations, events, signed provenance), one JSON line per run. Admin.')
  .option('--ended-before <date>', 'only runs that ended before this date (2026-01-31, midnight UTC) or ISO 8601 time: what `runs prune` with the same options removes')
  .option('--status <statuses>', 'only runs with these statuses, comma-separated (e.g. success,error)')
  .option('--manifest <id>', 'only runs of this manifest')
  .option('-o, --out <file>', 'write to FILE (created, mode 0600; never overwritten) instead of stdout')
  .addHelpText('after', '\nExamples:\n  $ stepgate runs export --ended-before 2026-01-01 --out runs-2025.ndjson\n  $ stepgate runs export --status error | jq -c .run.error')
  .action(async (options: { endedBefore?: string; status?: string; manifest?: string; out?: string }) => {
    const { exportCommand } = await import('./cli/commands/retention.js');
    exitCode = await exportCommand(api(), out(), options);
  });
runs
  .command('prune')
  .description('Remove final runs (success, error, cancelled) that ended before a date, with their whole record; the audit log keeps every row and records the prune. Admin.')
  .requiredOption('--ended-before <date>', 'runs that ended before this date (2026-01-31, midnight UTC) or ISO 8601 time')
  .option('--status <statuses>', 'only these final statuses, comma-separated (default: success,error,cancelled)')
  .option('--dry-run', 'count what would be removed; remove nothing')
  .addHelpText('after', '\nExport first to keep what goes:\n  $ stepgate runs export --ended-before 2026-01-01 --out runs-2025.ndjson\n  $ stepgate runs prune --ended-before 2026-01-01')
  .action(async (options: { endedBefore: string; status?: string; dryRun?: boolean }) => {
    const { pruneCommand } = await import('./cli/commands/retention.js');
    exitCode = await pruneCommand(api(), out(), options);
  });

program
  .command('status')
  .description("Show a run: its steps with status, timings, attempts and artifacts, and the tokens it used; with --step, one step's evidence.")
  .argument('<run>', 'run id')
  .option('--step <step>', "one step's evidence (key or step-run id): its system prompt and prompt, the LLM call, the output or the attestation")
  .action(async (run: string, options: { step?: string }) => {
    if (options.step !== undefined) {
      const { stepEvidenceCommand } = await import('./cli/commands/evidence.js');
      exitCode = await stepEvidenceCommand(api(), out(), run, options.step);
    } else exitCode = await statusCommand(api(), out(), run);
  });

program
  .command('inbox')
  .description('Every step waiting for attestation, oldest first, with its executor and expected outputs.')
  .option('--limit <n>', 'how many', '50')
  .action(async (options: { limit?: string }) => {
    exitCode = await inboxCommand(api(), out(), options);
  });

program
  .command('attest')
  .description('Attest a compute step; local files are hashed (sha256, bytes) for you.')
  .argument('<run>', 'run id')
  .argument('<step>', 'step key (e.g. B), an item of a map step (B[3]), or a step-run id')
  .requiredOption('--outcome <outcome>', 'SUCCESS or FAIL')
  .option('--item <n>', 'the item of a map step to attest (its item_index, from 0); the same as B[n]')
  .option('--notes <text>', 'what was done, for the record')
  .option('--by <name>', "who attests: with a token, the token's name (--by may only repeat it); with authentication off, default STEPGATE_OPERATOR or the user name")
  .option('-a, --artifact <name=path-or-uri...>', 'an artifact: a local file, or a remote URI with --sha256 and --bytes')
  .option('--sha256 <name=hex...>', 'digest of a remote artifact')
  .option('--bytes <name=n...>', 'size of a remote artifact')
  .addHelpText(
    'after',
    '\nExamples:\n  $ stepgate attest RUN_ID B --outcome SUCCESS --artifact forecast_csv=./forecast.csv --notes "Q3 workbook"\n' +
      '  $ stepgate attest RUN_ID B --outcome SUCCESS --artifact forecast_csv=s3://models/q3.csv --sha256 forecast_csv=HEX --bytes forecast_csv=1234\n' +
      '  $ stepgate attest RUN_ID B --outcome FAIL --notes "the model did not converge"\n' +
      '  $ stepgate attest RUN_ID B --item 3 --outcome SUCCESS --artifact reading=./sample-3.csv   (item 3 of map step B)',
  )
  .action(async (run: string, step: string, options) => {
    exitCode = await attestCommand(api(), out(), run, step, options);
  });

program
  .command('resume')
  .description('Continue a waiting run, showing each step as it starts and ends; then what ran and what it still waits on.')
  .argument('<run>', 'run id')
  .option('--no-progress', 'one request; show the run only once it waits or ends')
  .action(async (run: string, options: { progress?: boolean }) => {
    exitCode = await resumeCommand(api(), out(), run, options);
  });

program
  .command('cancel')
  .description('Cancel a pending, running or waiting run; its waits are cancelled, a busy runner stops after the step in flight.')
  .argument('<run>', 'run id')
  .option('--reason <text>', 'why, for the record')
  .action(async (run: string, options: { reason?: string }) => {
    exitCode = await cancelCommand(api(), out(), run, options);
  });

program
  .command('retry')
  .description('Give every failed step of a run in error a new attempt (SUCCESS steps are reused), then continue it, showing each step as it starts and ends.')
  .argument('<run>', 'run id')
  .option('--no-progress', 'one request; show the run only once it waits or ends')
  .action(async (run: string, options: { progress?: boolean }) => {
    exitCode = await retryCommand(api(), out(), run, options);
  });

program
  .command('watch')
  .description("Follow the server's live events (GET /api/events): one line per step or run transition. With RUN: that run only, ending once it waits or ends.")
  .argument('[run]', 'run id: show it as it is now, follow it, and exit once it waits or ends (0, or 9 error, 10 cancelled)')
  .addHelpText(
    'after',
    '\nWithout RUN it follows every run until Ctrl+C. A dropped connection is reopened with Last-Event-ID: the server replays the events since the last one shown.\n' +
      '--json prints each event as one JSON line (with RUN, the run as it is now first).\n' +
      'Examples:\n  $ stepgate watch                                  # every run, as it happens\n' +
      '  $ stepgate watch RUN_ID && stepgate inbox         # wait until the run parks, then see what it needs\n' +
      "  $ stepgate --json watch | jq -c 'select(.kind == \"step_failed\")'",
  )
  .action(async (run: string | undefined) => {
    const { watchCommand } = await import('./cli/commands/watch.js');
    exitCode = await watchCommand(api(), out(), run);
  });

program
  .command('plan')
  .description('Preview what resume (or retry) would do now, step by step: done, will_run, waiting, blocked, failed. Writes nothing.')
  .argument('<run>', 'run id')
  .action(async (run: string) => {
    exitCode = await planCommand(api(), out(), run);
  });
registerAccessCommands(program, api, out, (code) => {
  exitCode = code;
});

program
  .command('provenance')
  .description("Export a run's signed provenance: one DSSE envelope (in-toto statement) per attestation.")
  .argument('<run>', 'run id')
  .option('-o, --out <dir>', 'write the envelopes, the bundle, the public keys and a README.md into DIR (default: the bundle on stdout)')
  .addHelpText('after', '\nExamples:\n  $ stepgate provenance RUN_ID --out audit/\n  $ stepgate provenance RUN_ID > run.intoto.jsonl')
  .action(async (run: string, options: { out?: string }) => {
    exitCode = await provenanceCommand(api(), out(), run, options);
  });

program
  .command('verify')
  .description("Check a provenance envelope's signature (or a bundle's) and re-hash local files against its subjects.")
  .argument('<statement>', 'a DSSE envelope file, or a bundle (JSON Lines)')
  .argument('[files...]', 'local artifact files to re-hash: FILE, or SUBJECT=FILE to name the subject')
  .option('--key <file>', "verify offline with this key file (a PEM public key, or keys.json) instead of the server's GET /api/keys")
  .addHelpText(
    'after',
    '\nExit codes: 0 verified, 7 a signature does not verify (or the statement is unsigned), 8 a file differs or matches no subject.\n' +
      'Examples:\n  $ stepgate verify audit/B.attempt-1.intoto.json forecast.csv\n  $ stepgate verify audit/bundle.intoto.jsonl forecast_csv=./q3.csv --key audit/keys.json',
  )
  .action(async (statement: string, files: string[], options: { key?: string }) => {
    const { verifyCommand } = await import('./cli/commands/verify.js');
    exitCode = await verifyCommand(api, out(), statement, files, options);
  });

program
  .command('providers')
  .description('List the LLM providers manifests may name (model: "<provider>:<model>"): kind, base URL, key variable and whether it is set (never the key), max_concurrency, models.')
  .addHelpText('after', '\nProviders are built in (offline, openai, anthropic) or named in the providers file (STEPGATE_PROVIDERS_FILE, default ./stepgate.providers.yaml; docs/providers.md).')
  .action(async () => {
    const { providersCommand } = await import('./cli/commands/providers.js');
    exitCode = await providersCommand(api(), out());
  });

const keys = program.command('keys').description("The server's provenance signing keys (Ed25519).");
keys
  .command('list')
  .description('List the public keys: the active one, and the retired ones that still verify what they signed.')
  .action(async () => {
    exitCode = await keysListCommand(api(), out());
  });
keys
  .command('rotate')
  .description('Retire the active signing key and create a new one; old statements stay verifiable.')
  .action(async () => {
    exitCode = await keysRotateCommand(api(), out());
  });

try {
  await program.parseAsync(process.argv);
  process.exitCode = exitCode;
} catch (err) {
  process.exitCode = report(err);
}

function report(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.invalidInput;
  let code: number;
  let message: string;
  if (err instanceof CliError) [code, message] = [err.exitCode, err.message];
  else if (isStepgateError(err)) [code, message] = [exitCodeOf(err), err.message];
  else {
    const hint = knownFailure(err);
    [code, message] = hint ? [hint.code, hint.message] : [EXIT.failure, err instanceof Error ? err.message : String(err)];
  }
  if (program.opts().json) {
    const problem = err instanceof CliError ? err.problem : undefined;
    process.stdout.write(`${JSON.stringify({ error: { message, exit_code: code, ...(problem ? { problem } : {}) } }, null, 2)}\n`);
  }
  say(`stepgate: ${message}`);
  return code;
}

/** Failures of the environment that deserve a plain sentence and their own exit code. */
function knownFailure(err: unknown): { code: number; message: string } | undefined {
  const code = (err as { code?: unknown }).code;
  const detail = err instanceof Error ? err.message : String(err);
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === '3D000' || code === '28P01') {
    return { code: EXIT.unreachable, message: `cannot reach the database at DATABASE_URL (${String(code)}: ${detail}). Is PostgreSQL running, and does the database exist?` };
  }
  if (code === 'EADDRINUSE') return { code: EXIT.conflict, message: `the port is taken (${detail}); set PORT to a free port.` };
  return undefined;
}
