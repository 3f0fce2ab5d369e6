import { confirmDialog } from '../dialogs.js';
import { badge, bar, h, syncRows, table, toast } from '../dom.js';
import { dateTime, gib, phaseTone } from '../format.js';
import { actionButton, field, handleSubmit, num } from '../forms.js';
import { pageHeader, section } from './common.js';

/**
 * A list of one kind of tenant resource with a create form above it and a delete button (asking
 * first) on each row. Errors land beside the form field, or inside the confirmation dialog.
 */
async function resourceView(ctx, spec) {
  const t = table({ caption: spec.title, columns: [...spec.columns, 'Actions'] });
  let extra = {};
  const refresh = async () => {
    const [items, more] = await Promise.all([ctx.api.all(spec.path), spec.loadExtra?.(ctx) ?? {}]);
    extra = more;
    if (!ctx.alive()) return;
    syncRows(t.tbody, items, {
      key: (item) => item.id,
      signature: (item) => JSON.stringify([item, spec.signature?.(item, extra)]),
      render: (item) =>
        h(
          'tr',
          null,
          spec.cells(item, extra).map((cell, i) => (i === 0 ? h('th', { scope: 'row' }, cell) : h('td', null, cell))),
          h(
            'td',
            { class: 'row-actions' },
            h('button', {
              type: 'button',
              class: 'danger small',
              dataset: { fk: `delete-${item.id}` },
              'aria-label': `Delete ${spec.kind} ${spec.label(item)}`,
              text: 'Delete',
              onclick: async () => {
                const done = await confirmDialog({
                  title: `Delete ${spec.kind} ${spec.label(item)}?`,
                  body: h('p', null, spec.deleteWarning ?? 'This cannot be undone.'),
                  confirmLabel: `Delete ${spec.kind}`,
                  run: () => ctx.api.del(`${spec.path}/${item.id}`),
                });
                if (done) {
                  toast(`Deleted ${spec.kind} ${spec.label(item)}.`);
                  await refresh();
                }
              },
            }),
          ),
        ),
      empty: { columns: t.columns, text: spec.empty },
    });
  };
  const creator = spec.createForm ? spec.createForm(ctx, refresh) : spec.createButton(ctx, refresh);
  ctx.main.append(pageHeader(spec.title), section(spec.createTitle, creator), section(spec.listTitle, t.el));
  await refresh();
}

function createForm({ fields, submitLabel, body, created }) {
  return (ctx, refresh, path) => {
    const parts = fields.map((f) => field(f));
    const form = h(
      'form',
      { class: 'inline-form' },
      parts.map((p) => p.el),
    );
    const { general } = handleSubmit(form, async (data) => {
      const item = await ctx.api.post(path, body(data));
      form.reset();
      toast(created(item));
      await refresh();
      parts[0].input.focus();
    });
    form.append(
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, submitLabel)),
      general.el,
    );
    return form;
  };
}

const NAME_HINT = 'Lowercase letters, digits and "-".';
const NAME_ATTRS = { autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off', maxlength: 63 };

export function storagePoolsView(ctx) {
  const path = '/v1/storage-pools';
  const form = createForm({
    fields: [
      { label: 'Name', name: 'name', hint: NAME_HINT, attrs: NAME_ATTRS },
      {
        label: 'Capacity (GiB)',
        name: 'capacityGiB',
        type: 'number',
        value: 200,
        attrs: { min: 1, step: 1, inputmode: 'numeric' },
      },
    ],
    submitLabel: 'Create storage pool',
    body: (d) => ({ name: String(d.get('name') ?? '').trim(), capacityGiB: num(d.get('capacityGiB')) }),
    created: (p) => `Storage pool ${p.name} created.`,
  });
  return resourceView(ctx, {
    title: 'Storage pools',
    listTitle: 'Your storage pools',
    createTitle: 'New storage pool',
    kind: 'storage pool',
    path,
    label: (p) => p.name,
    columns: ['Name', 'Allocated', 'State', 'Created'],
    cells: (p) => [
      p.name,
      bar({
        label: `${p.name} allocated`,
        used: p.allocatedGiB,
        limit: p.capacityGiB,
        text: `${gib(p.allocatedGiB)} of ${gib(p.capacityGiB)}`,
        className: 'bar-compact',
      }),
      badge(p.state, phaseTone(p.state)),
      dateTime(p.createdAt),
    ],
    empty: 'No storage pools yet.',
    deleteWarning: 'A pool that still holds node disks cannot be deleted.',
    createForm: (c, refresh) => form(c, refresh, path),
  });
}

export function vpcsView(ctx) {
  const path = '/v1/vpcs';
  const form = createForm({
    fields: [
      { label: 'Name', name: 'name', hint: NAME_HINT, attrs: NAME_ATTRS },
      {
        label: 'CIDR',
        name: 'cidr',
        hint: 'IPv4, /16 to /28, in 10/8, 172.16/12 or 192.168/16; for example 10.0.0.0/24.',
        attrs: { autocomplete: 'off', spellcheck: 'false', inputmode: 'decimal', maxlength: 18 },
      },
    ],
    submitLabel: 'Create VPC',
    body: (d) => ({ name: String(d.get('name') ?? '').trim(), cidr: String(d.get('cidr') ?? '').trim() }),
    created: (v) => `VPC ${v.name} created (${v.cidr}).`,
  });
  return resourceView(ctx, {
    title: 'VPCs',
    listTitle: 'Your VPCs',
    createTitle: 'New VPC',
    kind: 'VPC',
    path,
    label: (v) => v.name,
    columns: ['Name', 'CIDR', 'Gateway', 'State', 'Created'],
    cells: (v) => [
      v.name,
      h('span', { class: 'mono' }, v.cidr),
      h('span', { class: 'mono' }, v.gateway),
      badge(v.state, phaseTone(v.state)),
      dateTime(v.createdAt),
    ],
    empty: 'No VPCs yet.',
    deleteWarning: 'A VPC that clusters still use cannot be deleted.',
    createForm: (c, refresh) => form(c, refresh, path),
  });
}

export function floatingIpsView(ctx) {
  const path = '/v1/floating-ips';
  return resourceView(ctx, {
    title: 'Floating IPs',
    listTitle: 'Your floating IPs',
    createTitle: 'New floating IP',
    kind: 'floating IP',
    path,
    label: (f) => f.address,
    columns: ['Address', 'Cluster', 'Allocated'],
    loadExtra: async (c) => ({
      clusters: new Map((await c.api.all('/v1/clusters')).map((cl) => [cl.id, cl.name])),
    }),
    signature: (f, extra) => (f.clusterId ? extra.clusters?.get(f.clusterId) : null),
    cells: (f, extra) => [
      h('span', { class: 'mono' }, f.address),
      f.clusterId
        ? h('a', { href: `#/clusters/${f.clusterId}` }, extra.clusters?.get(f.clusterId) ?? 'a cluster')
        : h('span', { class: 'hint' }, 'free'),
      dateTime(f.createdAt),
    ],
    empty: 'No floating IPs yet.',
    deleteWarning: 'The address goes back to the shared pool. An address a cluster uses cannot be released.',
    createButton: (c, refresh) =>
      h(
        'div',
        null,
        h(
          'p',
          { class: 'hint' },
          'A free address from the platform’s ranges; a cluster’s control plane is reached on it.',
        ),
        actionButton({
          label: 'Allocate floating IP',
          className: 'primary',
          run: async () => {
            const ip = await c.api.post(path, {});
            toast(`Floating IP ${ip.address} allocated.`);
            await refresh();
          },
        }),
      ),
  });
}
