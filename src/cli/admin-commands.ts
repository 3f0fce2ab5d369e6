import { Command } from 'commander';
import type { Schemas } from '../api/client.js';
import { dataOf } from './api-client.js';
import { CliContext } from './context.js';
import type { Column } from './output.js';

export type SecretKeyRotation = Schemas['SecretKeyRotationResponse'];

const rotationColumns: Column<SecretKeyRotation>[] = [
  { header: 'CURRENT KEY', value: (r) => r.currentKeyId },
  { header: 'SOURCE', value: (r) => r.source },
  { header: 'GENERATED', value: (r) => r.generated },
  { header: 'CLUSTER SECRETS', value: (r) => r.reencrypted.clusterSecrets },
  { header: 'IDEMPOTENT ANSWERS', value: (r) => r.reencrypted.idempotency },
  { header: 'REMAINING', value: (r) => describeRemaining(r.remaining) },
];

function describeRemaining(remaining: Record<string, number>): string {
  const entries = Object.entries(remaining);
  return entries.length === 0 ? 'none' : entries.map(([keyId, n]) => `${keyId}: ${n}`).join(', ');
}

/** What the operator does next: when the retired keys may go, or why not yet. */
export function rotationHint(r: SecretKeyRotation): string {
  const where = r.source === 'file' ? 'the key file (every line after the first)' : 'KAAS_SECRET_KEYS_RETIRED';
  if (Object.keys(r.remaining).length === 0) {
    return `Every secret is sealed under key ${r.currentKeyId}: the retired keys can be removed from ${where}.`;
  }
  return (
    `Secrets remain under other keys (${describeRemaining(r.remaining)}): keep those keys in ${where}` +
    `${r.source === 'environment' ? ', make sure every process runs with the current KAAS_SECRET_KEY,' : ''}` +
    ' and run `kaasctl admin rotate-secret-key` again.'
  );
}

export function adminCommands(): Command[] {
  const admin = new Command('admin').description('the platform itself (operator)');
  admin
    .command('rotate-secret-key')
    .description(
      'seal every secret at rest (cluster CAs and credentials, stored idempotent answers) again under a new key, ' +
        'while the platform runs. With the key file (the default), a new key is written at its head and every ' +
        'process takes it up; with KAAS_SECRET_KEY, set the new key there and the old one in ' +
        'KAAS_SECRET_KEYS_RETIRED on every process first',
    )
    .action(async (_o, command: Command) => {
      const ctx = CliContext.from(command);
      const rotation = await dataOf(ctx.client.api.POST('/v1/admin/secret-key/rotate', { body: {} }));
      ctx.print(rotation, rotationColumns);
      if (ctx.options.output === 'table') process.stdout.write(`\n${rotationHint(rotation)}\n`);
    });
  return [admin];
}
