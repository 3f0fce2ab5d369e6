import { Command, Option } from 'commander';
import { adminCommands } from './admin-commands.js';
import { auditCommands } from './audit-commands.js';
import { backupCommands } from './backup-commands.js';
import { clusterCommands } from './cluster-commands.js';
import { hostCommands } from './host-commands.js';
import { tenantCommands } from './tenant-commands.js';
import { tenantResourceCommands } from './tenant-resource-commands.js';

/** kaasctl with every command; `env` gives the defaults of --url and --token. */
export function kaasctlProgram(env: NodeJS.ProcessEnv = process.env): Command {
  const program = new Command('kaasctl')
    .description('operate a kaas platform: tenants, keys, quotas, hosts and every tenant resource')
    .option('--url <url>', 'API address (KAAS_URL)', env.KAAS_URL ?? 'http://127.0.0.1:8080')
    .option(
      '--token <token>',
      'admin token or tenant key (KAAS_ADMIN_TOKEN, then KAAS_TOKEN)',
      env.KAAS_ADMIN_TOKEN ?? env.KAAS_TOKEN,
    )
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json', 'name']).default('table'))
    .option('--tenant <tenant>', 'operator: act for this tenant (id or name) on tenant resources')
    .showHelpAfterError();
  for (const cmd of [
    ...tenantCommands(),
    ...hostCommands(),
    ...tenantResourceCommands(),
    ...clusterCommands(),
    ...backupCommands(),
    ...auditCommands(),
    ...adminCommands(),
  ])
    program.addCommand(cmd);
  return program;
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
