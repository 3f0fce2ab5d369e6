import { bar, h } from '../dom.js';
import { gib, mib } from '../format.js';
import { pageHeader, section } from './common.js';

/** Quota keys with their usage key and how to print an amount. */
export const QUOTA_ROWS = [
  { label: 'Clusters', quota: 'maxClusters', usage: 'clusters', fmt: String },
  { label: 'Nodes', quota: 'maxNodes', usage: 'nodes', fmt: String },
  { label: 'vCPUs', quota: 'maxVcpus', usage: 'vcpus', fmt: String },
  { label: 'Memory', quota: 'maxMemoryMiB', usage: 'memoryMiB', fmt: mib },
  { label: 'Storage', quota: 'maxStorageGiB', usage: 'storageGiB', fmt: gib },
  { label: 'Floating IPs', quota: 'maxFloatingIps', usage: 'floatingIps', fmt: String },
];

/** One bar per quota: what the tenant uses against its limit. */
export function quotaBars(tenant, { compact = false, prefix = '' } = {}) {
  return h(
    'div',
    { class: ['bars', compact ? 'bars-compact' : null] },
    QUOTA_ROWS.map((r) =>
      bar({
        label: r.label,
        ariaLabel: `${prefix}${r.label}`,
        used: tenant.usage[r.usage],
        limit: tenant.quota[r.quota],
        text: `${r.fmt(tenant.usage[r.usage])} of ${r.fmt(tenant.quota[r.quota])}`,
        className: compact ? 'bar-compact' : null,
      }),
    ),
  );
}

/** The tenant's quota and what it uses of it (GET /v1/tenant). */
export async function quotaView(ctx) {
  const tenant = await ctx.api.get('/v1/tenant');
  ctx.main.append(
    pageHeader('Quota'),
    section(
      `Usage of tenant ${tenant.name}`,
      quotaBars(tenant),
      h(
        'p',
        { class: 'hint' },
        'Declared cluster sizes count in full while clusters are being created or scaled. The operator sets the limits.',
      ),
    ),
  );
}
