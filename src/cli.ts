import { Command, Option } from 'commander';
import { adminCommands } from './cli/admin-commands.js';
import { ApiError } from './cli/api-client.js';
import { auditCommands } from './cli/audit-commands.js';
import { clusterCommands } from './cli/cluster-commands.js';
import { hostCommands } from './cli/host-commands.js';
import { tenantCommands } from './cli/tenant-commands.js';
import { tenantResourceCommands } from './cli/tenant-resource-commands.js';

const program = new Command('kaasctl')
  .description('operate a kaas platform: tenants, keys, quotas, hosts and every tenant resource')
  .option('--url <url>', 'API address (KAAS_URL)', process.env.KAAS_URL ?? 'http://127.0.0.1:8080')
  .option(
    '--token <token>',
    'admin token or tenant key (KAAS_ADMIN_TOKEN, then KAAS_TOKEN)',
    process.env.KAAS_ADMIN_TOKEN ?? process.env.KAAS_TOKEN,
  )
  .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json', 'name']).default('table'))
  .option('--tenant <tenant>', 'operator: act for this tenant (id or name) on tenant resources')
  .showHelpAfterError();

for (const cmd of [
  ...tenantCommands(),
  ...hostCommands(),
  ...tenantResourceCommands(),
  ...clusterCommands(),
  ...auditCommands(),
  ...adminCommands(),
])
  program.addCommand(cmd);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  const message = err instanceof ApiError || err instanceof Error ? err.message : String(err);
  process.stderr.write(`kaasctl: ${message}\n`);
  process.exit(err instanceof ApiError && err.status < 500 ? 1 : 2);
}
