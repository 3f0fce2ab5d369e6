// A cluster's version on its page: the version it runs, the versions of its bundle it can be
// upgraded to, and the UpToDate condition, which follows a roll (an upgrade or a certificate
// rotation) node by node.
import { confirmDialog } from '../dialogs.js';
import { badge, h, replaceChildren, toast } from '../dom.js';
import { conditionTone } from '../format.js';
import { field, handleSubmit } from '../forms.js';

/**
 * The versions of `bundle` that a cluster at `current` can roll to, as the API decides: listed
 * with `current` in their upgradeFrom, and installed (`available`).
 */
export function reachableVersions(bundle, current) {
  return (bundle?.versions ?? []).filter(
    (v) => v.version !== current && v.available && (v.upgradeFrom ?? []).includes(current),
  );
}

/**
 * The UpToDate condition as a badge and its message, or a note while none is reported; and, until
 * the reconciler has acted on the latest change, a note that the condition is from before it.
 */
export function upToDateStatus(cluster) {
  const c = (cluster.conditions ?? []).find((x) => x.type === 'UpToDate');
  const behind = (cluster.observedGeneration ?? 0) < (cluster.generation ?? 0);
  return h(
    'span',
    { class: 'up-to-date' },
    c
      ? [
          badge(c.status, conditionTone(c.status)),
          ' ',
          h('span', { class: 'mono' }, c.reason),
          h('span', { class: 'up-to-date-message' }, c.message),
        ]
      : h('span', { class: 'hint' }, 'Not reported yet.'),
    behind ? h('span', { class: 'up-to-date-message' }, 'The latest change is not taken up yet.') : null,
  );
}

/**
 * The "Version" panel. `bundles` is GET /v1/control-planes's items; `reload(cluster)` puts the
 * cluster the PATCH answered into the page; `update(cluster)` follows each refresh of the cluster.
 */
export function versionPanel(ctx, clusterId, bundles, reload) {
  let cluster;
  const current = h('dd', { class: 'mono' });
  const state = h('dd');
  const facts = h('dl', { class: 'facts' }, h('dt', null, 'Runs'), current, h('dt', null, 'Up to date'), state);

  const target = field({ label: 'Upgrade to', name: 'version', type: 'select', options: [] });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Upgrade');
  const form = h(
    'form',
    { class: 'inline-form', 'aria-label': 'Upgrade the cluster' },
    target.el,
    h('div', { class: 'form-actions' }, submit),
  );
  // Without a version to go to, the form gives way to a sentence saying so.
  const none = h('p', { class: 'hint', hidden: true });
  // The offered versions are rebuilt only when they change, so a choice survives the refreshes.
  let offered;
  const { general } = handleSubmit(form, async () => {
    const version = target.input.value;
    if (!version) return;
    const go = await confirmDialog({
      title: `Upgrade ${cluster.name} to ${version}?`,
      body: h(
        'p',
        null,
        `Every node is replaced by one running ${cluster.controlPlane} ${version}: the masters one at a time, each new one joining before the old one leaves, then each pool's workers. The cluster cannot go back to ${cluster.version} afterwards.`,
      ),
      confirmLabel: 'Upgrade',
      tone: 'primary',
    });
    if (!go) return;
    const next = await ctx.api.patch(`/v1/clusters/${clusterId}`, { version });
    toast(`Upgrading ${next.name} to ${next.version}: nodes are replaced one at a time.`);
    await reload(next);
  });
  form.append(general.el);
  const formBox = h('div', null, form);

  const el = h(
    'div',
    { class: 'stack' },
    facts,
    formBox,
    none,
    h(
      'p',
      { class: 'hint' },
      "Offered: the bundle's installed versions that can be upgraded to from the one the cluster runs. A downgrade is refused.",
    ),
  );

  return {
    el,
    update(c) {
      cluster = c;
      replaceChildren(current, `${c.controlPlane} ${c.version}`);
      replaceChildren(state, upToDateStatus(c));
      const bundle = bundles.find((b) => b.name === c.controlPlane);
      const reachable = reachableVersions(bundle, c.version).map((v) => v.version);
      const sig = reachable.join(',');
      if (sig !== offered) {
        offered = sig;
        const chosen = target.input.value;
        replaceChildren(
          target.input,
          reachable.map((v) => h('option', { value: v }, v)),
        );
        if (reachable.includes(chosen)) target.input.value = chosen;
      }
      // Hidden by its wrapper: the form's own display (flex) would keep it shown.
      formBox.hidden = reachable.length === 0;
      submit.disabled = c.phase === 'Deleting';
      none.hidden = reachable.length > 0;
      none.textContent = bundle
        ? `No version of ${c.controlPlane} can be reached from ${c.version}.`
        : `The platform no longer offers the bundle ${c.controlPlane}.`;
    },
  };
}
