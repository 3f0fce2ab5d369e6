// A worker pool's node labels and taints, edited in a dialog: one row per label or taint, added
// and removed freely, sent with PATCH /v1/clusters/:id/pools/:name. Nodes made after the change
// carry the new ones; the pool's nodes that exist keep theirs.
import { h, replaceChildren, toast } from '../dom.js';
import { errorLine, field, fieldError, formErrors } from '../forms.js';

export const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

const TEXT_ATTRS = { autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off' };

/** The label shown on a row's control: "Key" to the eye, "Label 2 key" to a screen reader. */
function rowLabel(kind, n, part) {
  return [h('span', { class: 'visually-hidden' }, `${kind} ${n} `), part];
}

/** The labels of the rows, in order, skipping empty rows; a key given twice is refused. */
function labelsOf(rows) {
  const labels = {};
  for (const row of rows) {
    const key = row.key.input.value.trim();
    const value = row.value.input.value.trim();
    if (!key && !value) continue;
    // Where the API names a label's problem (`labels.<key>`): beside its key.
    row.key.el.dataset.field = `labels.${key}`;
    if (!key) throw fieldError(`labels.${key}`, 'a label needs a key');
    if (key in labels) throw fieldError(`labels.${key}`, `the key ${key} is given twice`);
    labels[key] = value;
  }
  return labels;
}

/** The taints of the rows, in order, skipping empty rows; each row named as the API names it. */
function taintsOf(rows) {
  const taints = [];
  for (const row of rows) {
    const key = row.key.input.value.trim();
    const value = row.value.input.value.trim();
    if (!key && !value) continue;
    const at = `taints[${taints.length}]`;
    row.el.dataset.field = at;
    row.key.el.dataset.field = `${at}.key`;
    row.value.el.dataset.field = `${at}.value`;
    row.effect.el.dataset.field = `${at}.effect`;
    const effect = row.effect.input.value;
    taints.push(value ? { key, value, effect } : { key, effect });
  }
  return taints;
}

const sameLabels = (a, b) =>
  JSON.stringify(Object.entries(a).sort(([x], [y]) => x.localeCompare(y))) ===
  JSON.stringify(Object.entries(b).sort(([x], [y]) => x.localeCompare(y)));
const sameTaints = (a, b) =>
  JSON.stringify(a.map((t) => [t.key, t.value ?? '', t.effect])) ===
  JSON.stringify(b.map((t) => [t.key, t.value ?? '', t.effect]));

/**
 * Opens the dialog for `pool` of the cluster; `onSaved` runs after the PATCH was accepted. The
 * API's refusal (400) is shown beside the row it names, or under the rows.
 */
export function poolLabelsDialog(ctx, clusterId, pool, onSaved) {
  const titleId = `labels-${clusterId}-${pool.name}`;
  // Each row keeps what was typed in it while others come and go.
  const labelRows = [];
  const taintRows = [];
  const labelList = h('div', { class: 'kv-rows' });
  const taintList = h('div', { class: 'kv-rows' });

  function labelRow(key = '', value = '') {
    const row = {
      key: field({ label: 'Key', name: 'label-key', value: key, attrs: TEXT_ATTRS }),
      value: field({ label: 'Value', name: 'label-value', value, attrs: TEXT_ATTRS }),
    };
    row.remove = h('button', { type: 'button', class: 'secondary small' }, 'Remove');
    row.remove.addEventListener('click', () => removeRow(labelRows, row, addLabel));
    row.el = h('div', { class: 'kv-row' }, row.key.el, row.value.el, row.remove);
    return row;
  }

  function taintRow(taint = { key: '', value: '', effect: 'NoSchedule' }) {
    const row = {
      key: field({ label: 'Key', name: 'taint-key', value: taint.key, attrs: TEXT_ATTRS }),
      value: field({ label: 'Value', name: 'taint-value', value: taint.value ?? '', attrs: TEXT_ATTRS }),
      effect: field({
        label: 'Effect',
        name: 'taint-effect',
        type: 'select',
        value: taint.effect,
        options: TAINT_EFFECTS.map((e) => ({ value: e })),
      }),
    };
    row.remove = h('button', { type: 'button', class: 'secondary small' }, 'Remove');
    row.remove.addEventListener('click', () => removeRow(taintRows, row, addTaint));
    row.el = h('div', { class: 'kv-row kv-row-taint' }, row.key.el, row.value.el, row.effect.el, row.remove);
    return row;
  }

  /** Numbers the rows' labels ("Label 1 key") and puts the rows, or a note when none, in the list. */
  function render() {
    for (const [kind, rows, list, none] of [
      ['Label', labelRows, labelList, 'No labels.'],
      ['Taint', taintRows, taintList, 'No taints.'],
    ]) {
      rows.forEach((row, i) => {
        for (const part of ['key', 'value', 'effect']) {
          if (!row[part]) continue;
          const name = part[0].toUpperCase() + part.slice(1);
          replaceChildren(row[part].el.querySelector('label'), rowLabel(kind, i + 1, name));
        }
        row.remove.setAttribute('aria-label', `Remove ${kind.toLowerCase()} ${i + 1}`);
      });
      replaceChildren(list, rows.length ? rows.map((r) => r.el) : h('p', { class: 'hint' }, none));
    }
  }

  function removeRow(rows, row, addButton) {
    const i = rows.indexOf(row);
    rows.splice(i, 1);
    render();
    // Focus goes to the row that took its place, or to the button that adds one.
    const next = rows[i] ?? rows[i - 1];
    if (next) next.key.input.focus();
    else addButton.focus();
  }

  for (const [key, value] of Object.entries(pool.labels ?? {})) labelRows.push(labelRow(key, value));
  for (const taint of pool.taints ?? []) taintRows.push(taintRow(taint));

  const addLabel = h('button', { type: 'button', class: 'secondary small' }, 'Add label');
  addLabel.addEventListener('click', () => {
    const row = labelRow();
    labelRows.push(row);
    render();
    row.key.input.focus();
  });
  const addTaint = h('button', { type: 'button', class: 'secondary small' }, 'Add taint');
  addTaint.addEventListener('click', () => {
    const row = taintRow();
    taintRows.push(row);
    render();
    row.key.input.focus();
  });
  render();

  const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save labels and taints');
  const general = errorLine();
  const form = h(
    'form',
    { class: 'stack', 'aria-label': `Labels and taints of pool ${pool.name}` },
    h(
      'p',
      { class: 'hint' },
      "Nodes made after the change carry these: a scale-up, a replacement, an upgrade. The pool's nodes that exist now keep the labels and taints they have.",
    ),
    h('fieldset', null, h('legend', null, 'Labels'), labelList, h('div', { class: 'button-row' }, addLabel)),
    h(
      'fieldset',
      null,
      h('legend', null, 'Taints'),
      h(
        'p',
        { class: 'hint' },
        'Pods that do not tolerate a taint are kept off (or evicted from, NoExecute) its nodes.',
      ),
      taintList,
      h('div', { class: 'button-row' }, addTaint),
    ),
    general.el,
    h('div', { class: 'dialog-actions' }, cancel, save),
  );
  form.noValidate = true;
  const errors = formErrors(form, general);
  const dialog = h(
    'dialog',
    { class: 'dialog dialog-wide', 'aria-labelledby': titleId },
    h('h2', { id: titleId }, `Labels and taints of pool ${pool.name}`),
    form,
  );

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (save.disabled) return;
    errors.clear();
    save.disabled = true;
    try {
      const labels = labelsOf(labelRows);
      const taints = taintsOf(taintRows);
      // Only what changed is sent, so the pool's event says what it was.
      const body = {
        ...(sameLabels(labels, pool.labels ?? {}) ? {} : { labels }),
        ...(sameTaints(taints, pool.taints ?? []) ? {} : { taints }),
      };
      if (Object.keys(body).length === 0) {
        dialog.close();
        return;
      }
      const next = await ctx.api.patch(`/v1/clusters/${clusterId}/pools/${encodeURIComponent(pool.name)}`, body);
      toast(`Labels and taints of pool ${next.name} saved: new nodes carry them.`);
      dialog.close();
      await onSaved();
    } catch (err) {
      errors.show(err);
    } finally {
      save.disabled = false;
    }
  });
  cancel.addEventListener('click', () => dialog.close());
  const opener = document.activeElement;
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  (labelRows[0]?.key.input ?? addLabel).focus();
}
