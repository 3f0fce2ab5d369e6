import { badge, bar, h, syncRows, table, toast } from '../dom.js';
import { ago, mib, phaseTone } from '../format.js';
import { actionButton } from '../forms.js';
import { pageHeader, refreshStatus, section } from './common.js';

/**
 * Hosts are outside the tenants' event stream; their sweep records "last seen" every 10 s by
 * default, so asking more often shows nothing new.
 */
const HOSTS_POLL_MS = 10000;

function hostRow(ctx, host, refresh) {
  const draining = host.state === 'Draining' || host.state === 'Drained';
  return h(
    'tr',
    null,
    h('th', { scope: 'row' }, host.name, h('div', { class: 'hint mono' }, host.uri)),
    h(
      'td',
      null,
      h(
        'span',
        { class: 'badges' },
        badge(host.state, phaseTone(host.state)),
        host.simulated ? badge('simulated', 'info') : null,
      ),
      host.lastError ? h('div', { class: 'hint error-text' }, host.lastError) : null,
    ),
    h('td', null, host.domainType),
    h(
      'td',
      null,
      bar({
        label: `${host.name} vCPUs`,
        used: host.allocated.vcpus,
        limit: host.capacity.cpus,
        text: `${host.allocated.vcpus} vCPU on ${host.capacity.cpus} CPUs`,
        className: 'bar-compact',
      }),
      bar({
        label: `${host.name} memory`,
        used: host.allocated.memoryMiB,
        limit: host.capacity.memoryMiB,
        text: `${mib(host.allocated.memoryMiB)} of ${mib(host.capacity.memoryMiB)}`,
        className: 'bar-compact',
      }),
    ),
    h('td', null, String(host.allocated.nodes ?? 0)),
    h('td', null, host.lastSeenAt ? ago(host.lastSeenAt) : 'never'),
    h(
      'td',
      { class: 'row-actions' },
      actionButton({
        label: draining ? 'Undrain' : 'Drain',
        className: 'secondary small',
        ariaLabel: `${draining ? 'Undrain' : 'Drain'} host ${host.name}`,
        fk: `drain-${host.id}`,
        run: async () => {
          await ctx.api.post(`/v1/hosts/${host.id}/${draining ? 'undrain' : 'drain'}`, {});
          toast(`Host ${host.name}: ${draining ? 'accepting new nodes again' : 'draining'}.`);
          await refresh();
        },
      }),
    ),
  );
}

/** Operator: hosts with state and capacity, refreshed every HOSTS_POLL_MS. */
export async function hostsView(ctx) {
  const t = table({
    caption: 'Hosts',
    columns: ['Host', 'State', 'Type', 'Allocated of capacity', 'Nodes', 'Last seen', 'Actions'],
  });
  const status = refreshStatus(HOSTS_POLL_MS);
  const refresh = async () => {
    const page = await ctx.api.get('/v1/hosts');
    if (!ctx.alive()) return;
    syncRows(t.tbody, page.items ?? [], {
      key: (x) => x.id,
      signature: (x) => JSON.stringify([x, x.lastSeenAt ? ago(x.lastSeenAt) : null]),
      render: (x) => hostRow(ctx, x, refresh),
      empty: { columns: t.columns, text: 'No hosts registered. Add one with kaasctl hosts add.' },
    });
    status.ok();
  };
  ctx.main.append(
    pageHeader('Hosts'),
    section(
      'KVM hosts',
      h('p', { class: 'hint' }, 'Placement may overcommit vCPUs; memory is not overcommitted by default.'),
      t.el,
    ),
    status.el,
  );
  await ctx.poll(async () => {
    try {
      await refresh();
    } catch (err) {
      if (ctx.alive()) status.failed(err);
    }
  }, HOSTS_POLL_MS);
}
