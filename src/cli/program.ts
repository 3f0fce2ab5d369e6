import { Command, Option } from 'commander';
import { adminCommands } from './admin-commands.js';
import { auditCommands } from './audit-commands.js';
import { backupCommands } from './backup-commands.js';
import { clusterCommands } from './cluster-commands.js';
import { completionCommand } from './completion.js';
import { configCommands } from './config-commands.js';
import { DEFAULT_URL } from './connection.js';
import { addExamples } from './examples.js';
import { setSurroundings, type TokenInput } from './context.js';
import { hostCommands } from './host-commands.js';
import { loginCommand } from './login-command.js';
import { FORMATS } from './output.js';
import { tenantCommands } from './tenant-commands.js';
import { tenantResourceCommands } from './tenant-resource-commands.js';
import { kaasctlVersion } from './version.js';

/**
 * kaasctl with every command. `env` and `stdin` stand for the process's: the environment gives
 * KAAS_URL, KAAS_TOKEN, KAAS_ADMIN_TOKEN, KAAS_TENANT, KAAS_CONTEXT and where the config file is;
 * `login` reads a token from stdin. Server, token and tenant are resolved when a command runs:
 * flag, then environment, then context (connection.ts).
 */
export function kaasctlProgram(env: NodeJS.ProcessEnv = process.env, stdin?: TokenInput): Command {
  const program = new Command('kaasctl')
    .description('operate a kaas platform: tenants, keys, quotas, hosts and every tenant resource')
    .option('--url <url>', `API address (else KAAS_URL, else the context's server, else ${DEFAULT_URL})`)
    .option(
      '--token <token>',
      "admin token or tenant key (else KAAS_TOKEN, else KAAS_ADMIN_TOKEN, else the context's); prefer kaasctl login",
    )
    .addOption(new Option('-o, --output <format>', 'output format').choices(FORMATS).default('table'))
    .option(
      '--tenant <tenant>',
      "operator: act for this tenant (id or name) on tenant resources (else KAAS_TENANT, else the context's)",
    )
    .option('--context <name>', 'use this context of the config file, not the current one (else KAAS_CONTEXT)')
    .addHelpText(
      'after',
      '\nServer, token and tenant each come from the flag, else the environment, else the context\n' +
        '(the config is $KAASCONFIG or ~/.config/kaas/config.yaml). Start with: kaasctl login <server>.\n' +
        'Exit codes: 0 done; 1 refused or failed (the API said no, the server was not reached, a wait\n' +
        'failed or ran out); 2 usage (a command line kaasctl cannot use; nothing was sent). See docs/cli.md.',
    )
    .showHelpAfterError();
  setSurroundings(program, { env, stdin });
  for (const cmd of [
    ...tenantCommands(),
    ...hostCommands(),
    ...tenantResourceCommands(),
    ...clusterCommands(),
    ...backupCommands(),
    ...auditCommands(),
    ...adminCommands(),
    loginCommand(),
    configCommands(),
    completionCommand(),
    new Command('version').description("print kaasctl's version").action(() => {
      process.stdout.write(`${kaasctlVersion()}\n`);
    }),
  ])
    program.addCommand(cmd);
  addExamples(program);
  return program;
}

/**
 * Usage errors throw (a CommanderError, exit code 2: errors.ts) instead of ending the process
 * with commander's own code, at every level of commands; their text is printed as usual.
 */
export function exitOnUsageErrors(cmd: Command): Command {
  cmd.exitOverride();
  for (const sub of cmd.commands) exitOnUsageErrors(sub);
  return cmd;
}

/**
 * For running kaasctl inside another program (tests): usage errors throw instead of ending the
 * process, at every level of commands, and their text goes to `errors`.
 */
export function throwOnUsageErrors(cmd: Command, errors: string[] = []): Command {
  cmd.exitOverride().configureOutput({ writeErr: (text) => errors.push(text) });
  for (const sub of cmd.commands) throwOnUsageErrors(sub, errors);
  return cmd;
}
