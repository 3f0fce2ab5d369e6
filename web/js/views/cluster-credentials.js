// A cluster's credentials on its page: a kubeconfig whose client certificate lives as long as
// asked, and the rotation of every node's certificates.
import { confirmDialog } from '../dialogs.js';
import { h, replaceChildren, toast } from '../dom.js';
import { dateTime, fileName, until } from '../format.js';
import { field, fieldError, handleSubmit } from '../forms.js';

/** The API's bounds of `ttlSeconds`: a minute to 30 days. */
export const TTL_SECONDS = { min: 60, max: 30 * 86400 };
const UNIT_SECONDS = { hours: 3600, seconds: 1 };

/** The lifetime asked for, in seconds, or the problem with it (which the API would refuse too). */
export function ttlSecondsOf(amount, unit) {
  const text = String(amount ?? '').trim();
  if (!/^\d+$/.test(text)) return { problem: `must be a whole number of ${unit}` };
  const seconds = Number(text) * UNIT_SECONDS[unit];
  if (seconds < TTL_SECONDS.min || seconds > TTL_SECONDS.max)
    return { problem: `must be 60 seconds to 30 days (720 hours); ${text} ${unit} is not` };
  return { seconds };
}

function lifetime(seconds) {
  if (seconds % 86400 === 0) return seconds === 86400 ? '1 day' : `${seconds / 86400} days`;
  if (seconds % 3600 === 0) return seconds === 3600 ? '1 hour' : `${seconds / 3600} hours`;
  return `${seconds} seconds`;
}

async function download(ctx, cluster, seconds) {
  const yaml = await ctx.api.text(`/v1/clusters/${cluster.id}/kubeconfig?ttlSeconds=${seconds}`, 'application/yaml');
  const url = URL.createObjectURL(new Blob([yaml], { type: 'application/yaml' }));
  const link = h('a', { href: url, download: `${fileName(cluster.name)}.kubeconfig.yaml`, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30000);
  toast(`Kubeconfig of ${cluster.name} downloaded: its certificate is valid for ${lifetime(seconds)}.`);
}

/** The earliest certificate expiry among the nodes, or null when no node reports one. */
function earliestExpiry(nodes) {
  const times = nodes.map((n) => n.certificateExpiresAt).filter(Boolean);
  return times.length ? times.reduce((a, b) => (Date.parse(a) <= Date.parse(b) ? a : b)) : null;
}

/**
 * The "Credentials" panel. `reload(cluster)` puts the cluster the rotation answered into the
 * page; `update(cluster, nodes)` follows each refresh of the cluster and nodes.
 */
export function credentialsPanel(ctx, clusterId, reload) {
  let cluster;

  // Named `ttlSeconds` (whatever the unit) so that the API's refusal of it lands here too.
  const amount = field({
    label: 'Valid for',
    name: 'ttlSeconds',
    type: 'number',
    value: 24,
    hint: '60 seconds to 30 days (720 hours)',
    attrs: { min: 1, step: 1, inputmode: 'numeric' },
  });
  const unit = field({
    label: 'Unit',
    name: 'ttlUnit',
    type: 'select',
    value: 'hours',
    options: [{ value: 'hours' }, { value: 'seconds' }],
  });
  const kubeconfigForm = h(
    'form',
    { class: 'inline-form', 'aria-label': 'Download a kubeconfig' },
    amount.el,
    unit.el,
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, 'Download kubeconfig')),
  );
  const downloading = handleSubmit(kubeconfigForm, async (data) => {
    const { seconds, problem } = ttlSecondsOf(data.get('ttlSeconds'), String(data.get('ttlUnit')));
    if (problem) throw fieldError('ttlSeconds', problem);
    await download(ctx, cluster, seconds);
  });
  kubeconfigForm.append(downloading.general.el);

  const expiry = h('p', { class: 'hint' });
  const rotateButton = h('button', { type: 'button', class: 'secondary' }, 'Rotate certificates');
  rotateButton.addEventListener('click', async () => {
    const rotated = await confirmDialog({
      title: `Rotate the certificates of ${cluster.name}?`,
      body: h(
        'p',
        null,
        `Each of its ${cluster.nodeCounts.desired} node(s) is replaced, one at a time, by a node with new certificates from the cluster's CA; the masters keep their quorum. The CA stays, so kubeconfigs already downloaded keep working until they expire.`,
      ),
      confirmLabel: 'Rotate certificates',
      tone: 'primary',
      run: async () => {
        const next = await ctx.api.post(`/v1/clusters/${clusterId}/rotate-certificates`, {});
        await reload(next);
      },
    });
    if (rotated) toast(`Rotating the certificates of ${cluster.name}: nodes are replaced one at a time.`);
  });

  const el = h(
    'div',
    { class: 'stack' },
    h(
      'p',
      { class: 'hint' },
      'A kubeconfig holds a client certificate of its own, which names your API key and expires after the time given.',
    ),
    kubeconfigForm,
    h('h3', null, 'Node certificates'),
    expiry,
    h('div', { class: 'button-row' }, rotateButton),
  );

  return {
    el,
    update(c, nodes) {
      cluster = c;
      rotateButton.disabled = c.phase === 'Deleting';
      const earliest = earliestExpiry(nodes);
      replaceChildren(
        expiry,
        earliest
          ? [
              'The earliest expires ',
              h('time', { datetime: earliest, title: dateTime(earliest) }, until(earliest)),
              '. A node whose certificates expire within 30 days is replaced by one with new ones; "Rotate certificates" does so for every node now.',
            ]
          : 'No node reports the expiry of its certificates yet. "Rotate certificates" gives every node new ones.',
      );
    },
  };
}
