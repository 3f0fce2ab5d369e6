import { h, replaceChildren, toast } from '../dom.js';
import { bytes, dateTime } from '../format.js';
import { field, handleSubmit, num } from '../forms.js';
import { pageHeader } from './common.js';

function missing(kind, href) {
  return h('p', { class: 'notice' }, `No ${kind} yet. `, h('a', { href }, `Create one first`), '.');
}

function backupLabel(b) {
  return `${b.clusterName}, ${dateTime(b.createdAt)}: ${b.controlPlane} ${b.version}, ${bytes(b.sizeBytes)} (${b.trigger})`;
}

/**
 * The create form: offers the tenant's VPCs, storage pools, free floating IPs, the bundles, and
 * the backups a cluster can start from.
 */
export async function createClusterView(ctx) {
  const [controlPlanes, vpcs, pools, floatingIps, backups] = await Promise.all([
    ctx.api.get('/v1/control-planes'),
    ctx.api.all('/v1/vpcs'),
    ctx.api.all('/v1/storage-pools'),
    ctx.api.all('/v1/floating-ips'),
    // Without the list of backups a cluster can still be created, only not restored.
    ctx.api.all('/v1/backups').catch(() => []),
  ]);
  // Only a backup that succeeded holds data to start from.
  const restorable = backups.filter((b) => b.phase === 'Succeeded');
  const bundles = controlPlanes.items ?? [];
  const readyVpcs = vpcs.filter((v) => v.state === 'Ready');
  const readyPools = pools.filter((p) => p.state === 'Ready');
  const freeIps = floatingIps.filter((f) => !f.clusterId);
  const defaultBundle = bundles.find((b) => b.name === 'etcd') ?? bundles[0];

  const name = field({
    label: 'Name',
    name: 'name',
    hint: 'Lowercase letters, digits and "-"; 1 to 63 characters.',
    attrs: { autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off', required: true, maxlength: 63 },
  });
  const controlPlane = field({
    label: 'Control plane',
    name: 'controlPlane',
    type: 'select',
    value: defaultBundle?.name,
    options: bundles.map((b) => ({ value: b.name, label: b.description ? `${b.name}: ${b.description}` : b.name })),
  });
  const version = field({ label: 'Version', name: 'version', type: 'select', options: [] });
  const fillVersions = () => {
    const bundle = bundles.find((b) => b.name === controlPlane.input.value);
    replaceChildren(
      version.input,
      h('option', { value: '' }, bundle ? `Default (${bundle.defaultVersion})` : 'Default'),
      (bundle?.versions ?? []).map((v) =>
        h(
          'option',
          { value: v.version, disabled: !v.available },
          v.available ? v.version : `${v.version} (not installed)`,
        ),
      ),
    );
  };
  fillVersions();
  controlPlane.input.addEventListener('change', fillVersions);

  const restoreFrom = field({
    label: 'Restore from backup',
    name: 'restoreFrom.backupId',
    type: 'select',
    value: '',
    options: [
      { value: '', label: restorable.length ? 'None: a new, empty cluster' : 'None (no backup has succeeded yet)' },
      ...restorable.map((b) => ({ value: b.id, label: backupLabel(b) })),
    ],
    hint: "Optional. The control plane starts from the backup's data, at the backup's control plane and version.",
  });
  // A restore runs the backup's bundle and version: the choice is made for the user.
  const followBackup = () => {
    const backup = restorable.find((b) => b.id === restoreFrom.input.value);
    if (backup) controlPlane.input.value = backup.controlPlane;
    fillVersions();
    if (backup) {
      const offered = [...version.input.options].some((o) => o.value === backup.version);
      if (!offered) version.input.append(h('option', { value: backup.version }, backup.version));
      version.input.value = backup.version;
    }
    controlPlane.input.disabled = Boolean(backup);
    version.input.disabled = Boolean(backup);
  };
  restoreFrom.input.addEventListener('change', followBackup);

  const masters = field({
    label: 'Masters',
    name: 'masters',
    type: 'select',
    value: 1,
    options: [1, 3, 5].map((n) => ({ value: n })),
    hint: '1, 3 or 5 (an odd number keeps a quorum).',
  });
  const workers = field({
    label: 'Workers',
    name: 'workers',
    type: 'number',
    value: 2,
    hint: '0 to 100',
    attrs: { min: 0, max: 100, step: 1, inputmode: 'numeric' },
  });
  const vcpus = field({
    label: 'vCPUs per node',
    name: 'nodeSpec.vcpus',
    type: 'number',
    value: 2,
    attrs: { min: 1, max: 64, step: 1, inputmode: 'numeric' },
  });
  const memory = field({
    label: 'Memory per node (MiB)',
    name: 'nodeSpec.memoryMiB',
    type: 'number',
    value: 2048,
    attrs: { min: 256, max: 262144, step: 256, inputmode: 'numeric' },
  });
  const disk = field({
    label: 'Disk per node (GiB)',
    name: 'nodeSpec.diskGiB',
    type: 'number',
    value: 20,
    attrs: { min: 1, max: 4096, step: 1, inputmode: 'numeric' },
  });
  const vpc = field({
    label: 'VPC',
    name: 'vpcId',
    type: 'select',
    options: [
      { value: '', label: 'Choose a VPC' },
      ...readyVpcs.map((v) => ({ value: v.id, label: `${v.name} (${v.cidr})` })),
    ],
    value: readyVpcs.length === 1 ? readyVpcs[0].id : '',
  });
  const pool = field({
    label: 'Storage pool',
    name: 'storagePoolId',
    type: 'select',
    options: [
      { value: '', label: 'Choose a storage pool' },
      ...readyPools.map((p) => ({ value: p.id, label: `${p.name} (${p.allocatedGiB} of ${p.capacityGiB} GiB used)` })),
    ],
    value: readyPools.length === 1 ? readyPools[0].id : '',
  });
  const floatingIp = field({
    label: 'Floating IP',
    name: 'floatingIpId',
    type: 'select',
    options: [
      { value: '', label: 'Choose a free floating IP' },
      ...freeIps.map((f) => ({ value: f.id, label: f.address })),
    ],
    value: freeIps.length === 1 ? freeIps[0].id : '',
    hint: 'The control plane is reached at this address.',
  });

  const form = h(
    'form',
    { class: 'stack create-cluster', 'aria-labelledby': 'create-title' },
    h(
      'fieldset',
      null,
      h('legend', null, 'Cluster'),
      h('div', { class: 'field-grid' }, name.el, controlPlane.el, version.el),
    ),
    h('fieldset', null, h('legend', null, 'Start from a backup'), h('div', { class: 'restore-field' }, restoreFrom.el)),
    h(
      'fieldset',
      null,
      h('legend', null, 'Size'),
      h('div', { class: 'field-grid' }, masters.el, workers.el, vcpus.el, memory.el, disk.el),
    ),
    h(
      'fieldset',
      null,
      h('legend', null, 'Network and storage'),
      h(
        'div',
        { class: 'field-grid' },
        h('div', null, vpc.el, readyVpcs.length ? null : missing('VPC', '#/vpcs')),
        h('div', null, pool.el, readyPools.length ? null : missing('storage pool', '#/storage-pools')),
        h('div', null, floatingIp.el, freeIps.length ? null : missing('free floating IP', '#/floating-ips')),
      ),
    ),
  );
  const { general } = handleSubmit(form, async (data) => {
    const body = {
      name: String(data.get('name') ?? '').trim(),
      controlPlane: String(data.get('controlPlane') ?? ''),
      masters: num(data.get('masters')),
      workers: num(data.get('workers')),
      nodeSpec: {
        vcpus: num(data.get('nodeSpec.vcpus')),
        memoryMiB: num(data.get('nodeSpec.memoryMiB')),
        diskGiB: num(data.get('nodeSpec.diskGiB')),
      },
      vpcId: String(data.get('vpcId') ?? ''),
      storagePoolId: String(data.get('storagePoolId') ?? ''),
      floatingIpId: String(data.get('floatingIpId') ?? ''),
    };
    const backupId = String(data.get('restoreFrom.backupId') ?? '');
    const backup = restorable.find((b) => b.id === backupId);
    if (backup) {
      // The disabled selects are not in the form data; the API takes the version from the backup.
      body.controlPlane = backup.controlPlane;
      body.restoreFrom = { backupId };
    } else {
      const v = String(data.get('version') ?? '');
      if (v) body.version = v;
    }
    const created = await ctx.api.post('/v1/clusters', body);
    toast(`Cluster ${created.name} is being created.`);
    ctx.navigate(`/clusters/${created.id}`);
  });
  form.append(
    general.el,
    h(
      'div',
      { class: 'form-actions' },
      h('button', { type: 'submit', class: 'primary' }, 'Create cluster'),
      h('a', { href: '#/clusters', class: 'button secondary' }, 'Cancel'),
    ),
  );
  ctx.main.append(
    h('p', { class: 'breadcrumb' }, h('a', { href: '#/clusters' }, '← Clusters')),
    pageHeader('Create a cluster'),
    h('div', { class: 'panel' }, form),
  );
  const heading = ctx.main.querySelector('h1');
  heading.id = 'create-title';
}
