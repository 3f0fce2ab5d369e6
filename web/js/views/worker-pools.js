// A cluster's worker pools on its page: a table with scale, labels and taints, and remove on each
// row, and a form that adds a pool. The rows follow each refresh of the cluster; typed counts
// survive a refresh.
import { confirmDialog } from '../dialogs.js';
import { h, syncRows, table, toast } from '../dom.js';
import { mib } from '../format.js';
import { field, handleSubmit, num } from '../forms.js';
import { poolLabelsDialog } from './pool-labels.js';

const NAME_ATTRS = { autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off', maxlength: 63 };
const COUNT_ATTRS = { min: 0, max: 100, step: 1, inputmode: 'numeric' };

function size(spec) {
  return `${spec.vcpus} vCPU, ${mib(spec.memoryMiB)} memory, ${spec.diskGiB} GiB disk`;
}

/** `key=value` items (labels) or `key=value:Effect` items (taints), one per line; a dash when none. */
function tags(items) {
  return items.length
    ? h(
        'ul',
        { class: 'tags' },
        items.map((t) => h('li', { class: 'mono' }, t)),
      )
    : '–';
}

function labelsOf(pool) {
  return Object.entries(pool.labels ?? {}).map(([k, v]) => `${k}=${v}`);
}

function taintsOf(pool) {
  return (pool.taints ?? []).map((t) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`);
}

function autoscaleOf(pool) {
  const a = pool.autoscale;
  return a ? `${a.minCount} to ${a.maxCount} at ${a.targetCpuPercent}% CPU` : 'off';
}

/**
 * The "Worker pools" panel. `reload` fetches the cluster again (after a change), and `update`
 * puts the cluster's pools into the table.
 */
export function workerPoolsPanel(ctx, clusterId, reload) {
  const poolPath = (name) => `/v1/clusters/${clusterId}/pools/${encodeURIComponent(name)}`;
  const t = table({
    caption: 'Worker pools',
    columns: ['Pool', 'Count', 'Ready', 'Each node', 'Labels', 'Taints', 'Autoscale', 'Actions'],
    className: 'pools-table',
  });
  // What the user typed in a row's count, kept until it is sent: a refresh may rebuild the row.
  const drafts = new Map();
  let clusterSpec;

  function scaleForm(pool) {
    const count = field({
      label: `Workers in pool ${pool.name}`,
      name: 'count',
      type: 'number',
      value: drafts.get(pool.name) ?? pool.count,
      attrs: { ...COUNT_ATTRS, 'data-fk': `count-${pool.name}` },
    });
    count.el.querySelector('label').classList.add('visually-hidden');
    count.input.addEventListener('input', () => drafts.set(pool.name, count.input.value));
    const form = h(
      'form',
      { class: 'pool-scale', 'aria-label': `Scale pool ${pool.name}` },
      count.el,
      h(
        'button',
        {
          type: 'submit',
          class: 'secondary small',
          'aria-label': `Scale pool ${pool.name}`,
          dataset: { fk: `scale-${pool.name}` },
        },
        'Scale',
      ),
    );
    const { general } = handleSubmit(form, async (data) => {
      const next = await ctx.api.patch(poolPath(pool.name), { count: num(data.get('count')) });
      drafts.delete(pool.name);
      toast(`Scaling pool ${next.name} to ${next.count} worker(s).`);
      await reload();
    });
    form.append(general.el);
    return form;
  }

  function labelsButton(pool) {
    return h('button', {
      type: 'button',
      class: 'secondary small',
      dataset: { fk: `labels-${pool.name}` },
      'aria-label': `Edit labels and taints of pool ${pool.name}`,
      text: 'Labels and taints',
      onclick: () => poolLabelsDialog(ctx, clusterId, pool, reload),
    });
  }

  function removeButton(pool) {
    return h('button', {
      type: 'button',
      class: 'danger small',
      dataset: { fk: `remove-${pool.name}` },
      'aria-label': `Remove pool ${pool.name}`,
      text: 'Remove',
      onclick: async () => {
        const removed = await confirmDialog({
          title: `Remove pool ${pool.name}?`,
          body: h(
            'p',
            null,
            `Its ${pool.count} worker(s) are drained and deleted with their disks. Workloads that only fit on them (labels, taints) stop being scheduled.`,
          ),
          confirmLabel: 'Remove pool',
          run: () => ctx.api.del(poolPath(pool.name)),
        });
        if (removed) {
          drafts.delete(pool.name);
          toast(`Removing pool ${pool.name}.`);
          await reload();
        }
      },
    });
  }

  function poolRow(pool) {
    return h(
      'tr',
      null,
      h('th', { scope: 'row', class: 'mono' }, pool.name),
      h('td', null, String(pool.count)),
      h('td', null, `${pool.nodeCounts.ready} of ${pool.nodeCounts.desired}`),
      h('td', null, size(pool.nodeSpec)),
      h('td', null, tags(labelsOf(pool))),
      h('td', null, tags(taintsOf(pool))),
      h('td', null, autoscaleOf(pool)),
      h('td', { class: 'row-actions' }, scaleForm(pool), labelsButton(pool), removeButton(pool)),
    );
  }

  // Adding a pool: the fields are named by their API path, so refusals land beside them.
  const name = field({ label: 'Name', name: 'name', hint: 'Lowercase letters, digits and "-".', attrs: NAME_ATTRS });
  const count = field({ label: 'Workers', name: 'count', type: 'number', value: 1, attrs: COUNT_ATTRS });
  const sizeFields = [
    ['vCPUs', 'nodeSpec.vcpus', { min: 1, max: 64 }],
    ['Memory (MiB)', 'nodeSpec.memoryMiB', { min: 256, step: 256 }],
    ['Disk (GiB)', 'nodeSpec.diskGiB', { min: 1 }],
  ].map(([label, fieldName, attrs]) =>
    field({ label, name: fieldName, type: 'number', attrs: { step: 1, inputmode: 'numeric', ...attrs } }),
  );
  const sizeHint = h('p', { class: 'hint' });
  const addForm = h(
    'form',
    { class: 'inline-form', 'aria-label': 'Add a worker pool' },
    name.el,
    count.el,
    sizeFields.map((f) => f.el),
  );
  const adding = handleSubmit(addForm, async (data) => {
    const body = { name: String(data.get('name') ?? '').trim(), count: num(data.get('count')) };
    const given = sizeFields.map((f) => String(data.get(f.input.name) ?? '').trim());
    // A partial size is completed from the cluster's, as the API takes a whole nodeSpec.
    if (given.some(Boolean)) {
      const [vcpus, memoryMiB, diskGiB] = given;
      body.nodeSpec = {
        vcpus: vcpus ? num(vcpus) : clusterSpec.vcpus,
        memoryMiB: memoryMiB ? num(memoryMiB) : clusterSpec.memoryMiB,
        diskGiB: diskGiB ? num(diskGiB) : clusterSpec.diskGiB,
      };
    }
    const pool = await ctx.api.post(`/v1/clusters/${clusterId}/pools`, body);
    addForm.reset();
    toast(`Pool ${pool.name} added: ${pool.count} worker(s).`);
    await reload();
    name.input.focus();
  });
  addForm.append(
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, 'Add pool')),
    adding.general.el,
  );

  const el = h(
    'div',
    { class: 'stack' },
    t.el,
    h('h3', null, 'Add a pool'),
    h(
      'p',
      { class: 'hint' },
      'A pool’s labels and taints are edited with "Labels and taints" on its row; they apply to the nodes made afterwards. Autoscaling is set through the API or kaasctl clusters pools set.',
    ),
    sizeHint,
    addForm,
  );

  return {
    el,
    update(cluster) {
      clusterSpec = cluster.nodeSpec;
      sizeHint.textContent = `A size left empty is the cluster's: ${size(cluster.nodeSpec)}.`;
      const pools = cluster.workerPools ?? [];
      for (const key of drafts.keys()) if (!pools.some((p) => p.name === key)) drafts.delete(key);
      syncRows(t.tbody, pools, {
        key: (p) => p.name,
        render: poolRow,
        empty: { columns: t.columns, text: 'No worker pools: the cluster runs its masters only.' },
      });
    },
  };
}
