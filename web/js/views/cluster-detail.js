import { ApiError } from '../api.js';
import { confirmDialog } from '../dialogs.js';
import { badge, bar, h, replaceChildren, syncRows, table, toast } from '../dom.js';
import { ago, conditionTone, dateTime, mib, percent, phaseTone, until } from '../format.js';
import { field, handleSubmit, num } from '../forms.js';
import { backupsPanel, BACKUPS_SHOWN } from './backups.js';
import { credentialsPanel } from './cluster-credentials.js';
import { versionPanel } from './cluster-version.js';
import { healthBadges } from './clusters.js';
import { DELETING_RECHECK_MS, liveStatus, pageHeader, section } from './common.js';
import { workerPoolsPanel } from './worker-pools.js';

const EVENTS_SHOWN = 50;

function summary(cluster, refs) {
  const item = (label, value) => [h('dt', null, label), h('dd', null, value)];
  return h(
    'dl',
    { class: 'summary' },
    item('Phase', badge(cluster.phase, phaseTone(cluster.phase))),
    item('Health', h('span', { class: 'badges' }, healthBadges(cluster.conditions))),
    item('Endpoint', h('span', { class: 'mono' }, cluster.endpoint ?? 'not yet')),
    item('Control plane', `${cluster.controlPlane} ${cluster.version}`),
    item('Nodes ready', `${cluster.nodeCounts.ready} of ${cluster.nodeCounts.desired}`),
    item('Size', `${cluster.masters} master(s), ${cluster.workers} worker(s)`),
    item(
      'Each node',
      `${cluster.nodeSpec.vcpus} vCPU, ${mib(cluster.nodeSpec.memoryMiB)} memory, ${cluster.nodeSpec.diskGiB} GiB disk`,
    ),
    item('VPC', refs.vpc ? `${refs.vpc.name} (${refs.vpc.cidr})` : cluster.vpcId),
    item('Storage pool', refs.pool?.name ?? cluster.storagePoolId),
    item('Floating IP', h('span', { class: 'mono' }, refs.floatingIp?.address ?? cluster.floatingIpId)),
    item('Created', h('time', { datetime: cluster.createdAt }, dateTime(cluster.createdAt))),
    cluster.restoredFrom ? item('Restored from', restoredFrom(cluster.restoredFrom)) : null,
  );
}

function restoredFrom({ backupId, restoredAt }) {
  return h(
    'span',
    null,
    h('span', { class: 'mono', title: backupId }, `backup ${backupId.slice(0, 8)}`),
    restoredAt ? `, restored ${dateTime(restoredAt)}` : ', restoring',
  );
}

function usageBars(cluster) {
  const u = cluster.usage;
  if (!u) return h('p', { class: 'hint' }, 'No usage reported yet: nodes report CPU and memory once they run.');
  const total = cluster.nodeSpec.memoryMiB * u.nodes;
  return h(
    'div',
    { class: 'bars' },
    bar({ label: 'CPU', used: u.cpuPercent, limit: 100, text: `${percent(u.cpuPercent)} average` }),
    bar({ label: 'Memory', used: u.memoryMiB, limit: total, text: `${mib(u.memoryMiB)} of ${mib(total)}` }),
    h('p', { class: 'hint' }, `Sampled from ${u.nodes} node(s).`),
  );
}

function conditionRow(c) {
  return h(
    'tr',
    null,
    h('th', { scope: 'row' }, c.type),
    h('td', null, badge(c.status, conditionTone(c.status))),
    h('td', null, c.reason),
    h('td', null, c.message),
    h(
      'td',
      null,
      h('time', { datetime: c.lastTransitionTime, title: c.lastTransitionTime }, ago(c.lastTransitionTime)),
    ),
  );
}

function nodeRow(n, hostsById, declaredVersion) {
  const expires = n.certificateExpiresAt;
  return h(
    'tr',
    null,
    h('th', { scope: 'row', class: 'mono' }, n.name),
    h('td', null, n.role),
    h('td', { class: 'mono' }, n.pool ?? '–'),
    h(
      'td',
      { class: 'mono' },
      n.version ?? '–',
      // During an upgrade the nodes still to be replaced run the version the cluster had.
      n.version && n.version !== declaredVersion ? h('span', { class: 'hint' }, ' (to be replaced)') : null,
    ),
    h('td', null, badge(n.phase, phaseTone(n.phase))),
    h('td', { class: 'mono' }, n.address ?? '–'),
    h('td', null, n.hostId ? (hostsById.get(n.hostId) ?? 'assigned') : '–'),
    h('td', null, n.usage ? percent(n.usage.cpuPercent) : '–'),
    h('td', null, n.usage ? `${mib(n.usage.memoryMiB)} of ${mib(n.memoryMiB)}` : '–'),
    h('td', null, expires ? h('time', { datetime: expires, title: dateTime(expires) }, until(expires)) : '–'),
    h('td', null, n.lastHeartbeatAt ? ago(n.lastHeartbeatAt) : 'never'),
  );
}

function eventItem(e) {
  return h(
    'li',
    { class: ['event', e.type === 'Warning' ? 'event-warning' : null] },
    h('time', { datetime: e.createdAt, title: e.createdAt }, dateTime(e.createdAt)),
    ' ',
    badge(e.type, e.type === 'Warning' ? 'warn' : 'neutral'),
    ' ',
    h('strong', { class: 'event-reason' }, e.reason),
    ' ',
    h('span', null, e.message),
  );
}

/**
 * One cluster: status, usage, scaling, version, credentials, deletion, nodes and events, kept
 * live from the cluster's event stream.
 */
export async function clusterDetailView(ctx) {
  const [id] = ctx.params;
  let cluster = await ctx.api.get(`/v1/clusters/${id}`);
  const [vpc, pool, floatingIp, controlPlanes] = await Promise.all(
    [
      `/v1/vpcs/${cluster.vpcId}`,
      `/v1/storage-pools/${cluster.storagePoolId}`,
      `/v1/floating-ips/${cluster.floatingIpId}`,
      '/v1/control-planes',
    ].map((path) => ctx.api.get(path).catch(() => undefined)),
  );
  const refs = { vpc, pool, floatingIp };
  // Node rows name their host; only the operator may list hosts, so tenants see "assigned".
  const hostsById = new Map();
  if (ctx.session.role === 'operator') {
    const hosts = await ctx.api.get('/v1/hosts', { asTenant: false }).catch(() => ({ items: [] }));
    for (const host of hosts.items ?? []) hostsById.set(host.id, host.name);
  }

  const phase = h('span', { class: 'title-badge' });
  const summaryBox = h('div');
  const usageBox = h('div');

  // Scaling: the inputs follow the cluster until the user edits them.
  let edited = false;
  const workers = field({
    label: 'Workers',
    name: 'workers',
    type: 'number',
    value: cluster.workers,
    hint: '0 to 100',
    attrs: { min: 0, max: 100, step: 1, inputmode: 'numeric' },
  });
  const masters = field({
    label: 'Masters',
    name: 'masters',
    type: 'select',
    value: cluster.masters,
    options: [1, 3, 5].map((n) => ({ value: n })),
  });
  for (const input of [workers.input, masters.input]) input.addEventListener('input', () => (edited = true));
  const scaleForm = h('form', { class: 'inline-form', 'aria-label': 'Scale the cluster' }, workers.el, masters.el);
  const scaling = handleSubmit(scaleForm, async (data) => {
    // With several pools the API scales each pool (below), not the cluster's workers.
    const body = workers.input.disabled ? {} : { workers: num(data.get('workers')) };
    const m = num(data.get('masters'));
    if (m !== cluster.masters) body.masters = m;
    cluster = await ctx.api.patch(`/v1/clusters/${id}`, body);
    edited = false;
    toast(`Scaling ${cluster.name} to ${cluster.masters} master(s) and ${cluster.workers} worker(s).`);
    update();
  });
  scaleForm.append(h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, 'Scale')));
  scaleForm.append(scaling.general.el);

  const deleteButton = h('button', { type: 'button', class: 'danger' }, 'Delete cluster');
  deleteButton.addEventListener('click', async () => {
    const deleted = await confirmDialog({
      title: `Delete cluster ${cluster.name}?`,
      body: h(
        'p',
        null,
        `Its ${cluster.nodeCounts.desired} node(s) and their disks are removed. The VPC, storage pool and floating IP stay. This cannot be undone.`,
      ),
      confirmLabel: 'Delete cluster',
      run: () => ctx.api.del(`/v1/clusters/${id}`),
    });
    if (deleted) {
      toast(`Deleting cluster ${cluster.name}.`);
      ctx.navigate('/clusters');
    }
  });

  const conditions = table({
    caption: 'Conditions',
    columns: ['Condition', 'Status', 'Reason', 'Message', 'Since'],
  });
  const nodes = table({
    caption: 'Nodes',
    columns: [
      'Name',
      'Role',
      'Pool',
      'Version',
      'Phase',
      'Address',
      'Host',
      'CPU',
      'Memory',
      'Certificate expires',
      'Heartbeat',
    ],
  });
  const events = h('ol', { class: 'events', 'aria-label': 'Events, newest first' });
  const pools = workerPoolsPanel(ctx, id, async () => {
    const c = await ctx.api.get(`/v1/clusters/${id}`);
    if (!ctx.alive()) return;
    cluster = c;
    update();
  });
  // The panels below hand back the cluster their request answered with.
  const showCluster = async (c) => {
    if (!ctx.alive()) return;
    cluster = c;
    update();
  };
  const backups = backupsPanel(ctx, id, showCluster);
  const version = versionPanel(ctx, id, controlPlanes?.items ?? [], showCluster);
  const credentials = credentialsPanel(ctx, id, showCluster);
  const status = liveStatus();

  ctx.main.append(
    h('p', { class: 'breadcrumb' }, h('a', { href: '#/clusters' }, '← Clusters')),
    pageHeader(cluster.name, phase),
    h(
      'div',
      { class: 'grid-2' },
      section('Overview', summaryBox),
      h(
        'div',
        { class: 'stack' },
        section('Usage', usageBox),
        section('Scale', scaleForm),
        section('Removal', h('div', { class: 'button-row' }, deleteButton)),
      ),
    ),
    h('div', { class: 'grid-2' }, section('Version', version.el), section('Credentials', credentials.el)),
    section('Worker pools', pools.el),
    section('Backups', backups.el),
    section('Conditions', conditions.el),
    section('Nodes', nodes.el),
    section('Events', events),
    status.el,
  );

  let nodeItems = [];
  let eventItems = [];
  function update() {
    replaceChildren(phase, badge(cluster.phase, phaseTone(cluster.phase)));
    replaceChildren(summaryBox, summary(cluster, refs));
    replaceChildren(usageBox, usageBars(cluster));
    if (!edited) {
      workers.input.value = String(cluster.workers);
      masters.input.value = String(cluster.masters);
    }
    workers.input.disabled = (cluster.workerPools?.length ?? 0) > 1;
    workers.el.querySelector('.hint').textContent = workers.input.disabled
      ? 'Several worker pools: scale each one under Worker pools.'
      : '0 to 100';
    pools.update(cluster);
    backups.update(cluster);
    version.update(cluster);
    credentials.update(cluster, nodeItems);
    deleteButton.disabled = cluster.phase === 'Deleting';
    syncRows(conditions.tbody, cluster.conditions ?? [], {
      key: (c) => c.type,
      render: conditionRow,
      empty: { columns: conditions.columns, text: 'No conditions reported yet.' },
    });
    syncRows(nodes.tbody, nodeItems, {
      key: (n) => n.id,
      // The declared version is part of a row: it says which nodes an upgrade still replaces.
      signature: (n) => `${JSON.stringify(n)} ${cluster.version}`,
      render: (n) => nodeRow(n, hostsById, cluster.version),
      empty: { columns: nodes.columns, text: 'No nodes yet.' },
    });
    const eventsSig = eventItems.map((e) => e.id).join(',');
    if (events.dataset.sig !== eventsSig) {
      events.dataset.sig = eventsSig;
      replaceChildren(
        events,
        eventItems.length ? eventItems.map(eventItem) : h('li', { class: 'hint' }, 'No events yet.'),
      );
    }
  }

  await ctx.follow(
    async () => {
      try {
        const [c, n, e, b] = await Promise.all([
          ctx.api.get(`/v1/clusters/${id}`),
          ctx.api.get(`/v1/clusters/${id}/nodes`),
          ctx.api.get(`/v1/clusters/${id}/events?limit=${EVENTS_SHOWN}`),
          ctx.api.get(`/v1/clusters/${id}/backups?limit=${BACKUPS_SHOWN}`),
        ]);
        if (!ctx.alive()) return;
        cluster = c;
        nodeItems = n.items ?? [];
        eventItems = e.items ?? [];
        backups.showBackups(b);
        update();
        status.ok();
        if (cluster.phase === 'Deleting') return DELETING_RECHECK_MS;
      } catch (err) {
        if (!ctx.alive()) return;
        if (err instanceof ApiError && err.status === 404) {
          replaceChildren(
            ctx.main,
            pageHeader(`Cluster ${cluster.name} is gone`),
            h('p', null, 'It has been deleted and cleaned up. ', h('a', { href: '#/clusters' }, 'Back to clusters')),
          );
          ctx.main.querySelector('h1')?.focus();
          return false;
        }
        status.failed(err);
      }
    },
    { clusterId: id, onState: status.connection },
  );
}
