import { badge, h, syncRows, table } from '../dom.js';
import { conditionTone, mib, percent, phaseTone } from '../format.js';
import { DELETING_RECHECK_MS, linkButton, liveStatus, pageHeader } from './common.js';

/** Conditions that are not True, as short badges; "Healthy" when all are. */
export function healthBadges(conditions) {
  const list = conditions ?? [];
  if (!list.length) return [badge('Unknown', 'neutral')];
  const bad = list.filter((c) => c.status !== 'True' && c.type !== 'Ready');
  const ready = list.find((c) => c.type === 'Ready');
  if (!bad.length && ready?.status === 'True') return [badge('Healthy', 'ok')];
  const out = bad.map((c) => {
    const b = badge(c.type, conditionTone(c.status));
    b.title = `${c.type}: ${c.status} (${c.reason}) ${c.message}`;
    return b;
  });
  return out.length ? out : [badge(`Ready: ${ready?.status ?? 'Unknown'}`, conditionTone(ready?.status))];
}

export function usageText(cluster) {
  const u = cluster.usage;
  if (!u) return { cpu: '–', memory: '–' };
  const total = cluster.nodeSpec.memoryMiB * u.nodes;
  return { cpu: percent(u.cpuPercent), memory: `${mib(u.memoryMiB)} of ${mib(total)}` };
}

function clusterRow(c) {
  const usage = usageText(c);
  return h(
    'tr',
    null,
    h('th', { scope: 'row' }, h('a', { href: `#/clusters/${c.id}`, dataset: { fk: `open-${c.id}` } }, c.name)),
    h('td', null, badge(c.phase, phaseTone(c.phase))),
    h('td', { class: 'mono' }, c.endpoint ?? '–'),
    h('td', null, `${c.nodeCounts.ready} / ${c.nodeCounts.desired}`),
    h('td', null, h('span', { class: 'badges' }, healthBadges(c.conditions))),
    h('td', null, usage.cpu),
    h('td', null, usage.memory),
  );
}

/** The tenant's clusters, refreshed as their events arrive. */
export async function clustersView(ctx) {
  const t = table({
    caption: 'Clusters',
    columns: ['Name', 'Phase', 'Endpoint', 'Nodes ready', 'Health', 'CPU', 'Memory'],
    className: 'clusters-table',
  });
  const status = liveStatus();
  ctx.main.append(pageHeader('Clusters', linkButton('#/clusters/new', 'Create cluster')), t.el, status.el);
  await ctx.follow(
    async () => {
      try {
        const items = await ctx.api.all('/v1/clusters');
        if (!ctx.alive()) return;
        syncRows(t.tbody, items, {
          key: (c) => c.id,
          signature: (c) => JSON.stringify([c.name, c.phase, c.endpoint, c.nodeCounts, c.conditions, c.usage]),
          render: clusterRow,
          empty: { columns: t.columns, text: 'No clusters yet. Create one with the button above.' },
        });
        status.ok();
        if (items.some((c) => c.phase === 'Deleting')) return DELETING_RECHECK_MS;
      } catch (err) {
        if (ctx.alive()) status.failed(err);
      }
    },
    { onState: status.connection },
  );
}
