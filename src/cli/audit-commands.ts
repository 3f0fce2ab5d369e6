import { Command, Option } from 'commander';
import type { Schemas } from '../api/client.js';
import { dataOf } from './api-client.js';
import { CliContext, intOption } from './context.js';
import type { Column } from './output.js';
import { UsageError } from './errors.js';

type AuditRecord = Schemas['AuditRecordResponse'];

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `--since` takes an ISO 8601 time or an age such as 30m, 12h or 7d. */
export function sinceToIso(value: string, now = Date.now()): string {
  const age = /^(\d+)([smhd])$/.exec(value);
  if (age) return new Date(now - Number(age[1]) * UNITS[age[2]] * 1000).toISOString();
  if (Number.isNaN(Date.parse(value))) {
    throw new UsageError(`--since must be an ISO 8601 time or an age like 30m, 12h, 7d; got "${value}"`);
  }
  return value;
}

export const auditColumns: Column<AuditRecord>[] = [
  { header: 'AT', value: (a) => a.at },
  {
    header: 'ACTOR',
    value: (a) => `${a.actor.kind}${a.actor.apiKeyId ? ` key ${a.actor.apiKeyId.slice(0, 8)}` : ''}`,
  },
  { header: 'TENANT', value: (a) => a.tenantId },
  { header: 'METHOD', value: (a) => a.method },
  { header: 'PATH', value: (a) => a.path },
  { header: 'STATUS', value: (a) => a.statusCode },
  { header: 'OUTCOME', value: (a) => a.outcome },
  { header: 'SOURCE', value: (a) => a.sourceIp },
  { header: 'REQUEST', value: (a) => a.requestId },
];

export function auditCommands(): Command[] {
  const audit = new Command('audit')
    .description('the audit log of API writes, newest first (operator); --tenant narrows it to one tenant')
    .option('--limit <n>', 'how many records (default 100)', intOption('limit'))
    .option('--since <time>', 'only records at or after this ISO 8601 time, or within an age like 30m, 12h, 7d')
    .addOption(new Option('--outcome <outcome>', 'only successes or failures').choices(['success', 'failure']))
    .action(async (opts: { limit?: number; since?: string; outcome?: AuditRecord['outcome'] }, cmd: Command) => {
      const ctx = CliContext.from(cmd);
      const wanted = opts.limit ?? 100;
      const filter = {
        tenantId: ctx.options.tenant ? await ctx.tenantId(ctx.options.tenant) : undefined,
        since: opts.since ? sinceToIso(opts.since) : undefined,
        outcome: opts.outcome,
      };
      const items: AuditRecord[] = [];
      let cursor: string | undefined;
      do {
        const query = { ...filter, limit: Math.min(1000, wanted - items.length), cursor };
        const res = await dataOf(ctx.client.api.GET('/v1/audit', { params: { query } }));
        items.push(...res.items);
        cursor = res.nextCursor;
      } while (cursor && items.length < wanted);
      ctx.print(items, auditColumns);
    });
  return [audit];
}
