import { Option, type Command } from 'commander';
import { ROLES } from '../core/access.js';
import type { ApiClient } from './client.js';
import { auditCommand, type AuditOptions } from './commands/audit.js';
import { tokenCreateCommand, tokenListCommand, tokenRevokeCommand } from './commands/tokens.js';
import type { Output } from './output.js';

/** `stepgate token create|list|revoke` and `stepgate audit` (admin): SPEC §10. */
export function registerAccessCommands(program: Command, api: () => ApiClient, out: () => Output, done: (code: number) => void): void {
  const token = program.command('token').description('Manage API tokens (admin): create, list, revoke.');
  token
    .command('create')
    .description('Create a token; its secret is printed this once.')
    .requiredOption('--name <name>', 'who the token stands for (recorded as attested_by and in the audit log)')
    .addOption(new Option('--role <role>', 'what it may do').choices(ROLES).makeOptionMandatory())
    .option('--expires <when>', 'expiry: a duration (90d, 12h, 30m, 2w) or an ISO 8601 time; default never')
    .addHelpText('after', '\nExample:\n  $ stepgate token create --name ana --role operator --expires 90d')
    .action(async (options: { name: string; role: string; expires?: string }) => done(await tokenCreateCommand(api(), out(), options)));
  token
    .command('list')
    .description('List tokens: name, role, status, expiry, last use (never their secrets).')
    .action(async () => done(await tokenListCommand(api(), out())));
  token
    .command('revoke')
    .description('Revoke a token by name (or id); refused from its next request on.')
    .argument('<name>', 'the token name (or id)')
    .action(async (name: string) => done(await tokenRevokeCommand(api(), out(), name)));

  program
    .command('audit')
    .description('The audit log (admin), newest first: every state-changing request, allowed or refused.')
    .option('--actor <name>', 'only requests made with this token name')
    .option('--action <action>', 'only this action, e.g. "POST /api/runs/:run_id/resume"')
    .option('--outcome <status>', 'only this HTTP status, e.g. 403')
    .option('--since <time>', 'only events at or after this ISO 8601 time')
    .option('--limit <n>', 'how many', '50')
    .option('--cursor <cursor>', 'the page after the one that printed this cursor (same filters)')
    .action(async (options: AuditOptions) => done(await auditCommand(api(), out(), options)));
}
