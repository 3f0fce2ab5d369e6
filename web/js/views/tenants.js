import { secretDialog } from '../dialogs.js';
import { h, syncRows, table, toast } from '../dom.js';
import { dateTime } from '../format.js';
import { actionButton, field, handleSubmit, num } from '../forms.js';
import { pageHeader, refreshStatus, section } from './common.js';
import { QUOTA_ROWS, quotaBars } from './quota.js';

/**
 * Tenants are outside the event stream; what this page changes it shows at once, so the polling
 * only follows what tenants use, which moves slowly.
 */
const TENANTS_POLL_MS = 30000;

/** Edits a tenant's six limits in a dialog; errors land beside the limit they name. */
function quotaDialog(ctx, tenant, onSaved) {
  const titleId = `quota-${tenant.id}`;
  const fields = QUOTA_ROWS.map((r) =>
    field({
      label: `${r.label} (${r.quota})`,
      name: r.quota,
      type: 'number',
      value: tenant.quota[r.quota],
      attrs: { min: 0, step: 1, inputmode: 'numeric' },
    }),
  );
  const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
  const form = h(
    'form',
    { class: 'stack' },
    h(
      'div',
      { class: 'field-grid' },
      fields.map((f) => f.el),
    ),
  );
  const dialog = h(
    'dialog',
    { class: 'dialog', 'aria-labelledby': titleId },
    h('h2', { id: titleId }, `Quota of ${tenant.name}`),
    form,
  );
  const { general } = handleSubmit(form, async (data) => {
    const body = Object.fromEntries(QUOTA_ROWS.map((r) => [r.quota, num(data.get(r.quota))]));
    await ctx.api.put(`/v1/tenants/${tenant.id}/quota`, body);
    toast(`Quota of ${tenant.name} saved.`);
    dialog.close();
    await onSaved();
  });
  form.append(
    general.el,
    h('div', { class: 'dialog-actions' }, cancel, h('button', { type: 'submit', class: 'primary' }, 'Save quota')),
  );
  cancel.addEventListener('click', () => dialog.close());
  const opener = document.activeElement;
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  fields[0].input.focus();
}

/** Operator: tenants with their usage against quota; create, keys, quota, and acting as one. */
export async function tenantsView(ctx) {
  const t = table({
    caption: 'Tenants',
    columns: ['Name', 'Usage of quota', 'Created', 'Actions'],
    className: 'tenants-table',
  });
  const status = refreshStatus(TENANTS_POLL_MS);

  const name = field({
    label: 'Name',
    name: 'name',
    hint: 'Lowercase letters, digits and "-". The new tenant’s first API key is shown once.',
    attrs: { autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off', maxlength: 63 },
  });
  const form = h('form', { class: 'inline-form' }, name.el);
  const refresh = async () => {
    const items = await ctx.api.all('/v1/tenants');
    if (!ctx.alive()) return;
    syncRows(t.tbody, items, {
      key: (x) => x.id,
      render: (x) =>
        h(
          'tr',
          null,
          h('th', { scope: 'row' }, x.name, h('div', { class: 'hint mono' }, x.id)),
          h('td', null, quotaBars(x, { compact: true, prefix: `${x.name} ` })),
          h('td', null, dateTime(x.createdAt)),
          h(
            'td',
            { class: 'row-actions' },
            h('button', {
              type: 'button',
              class: 'primary small',
              text: 'View as tenant',
              'aria-label': `View as tenant ${x.name}`,
              dataset: { fk: `act-${x.id}` },
              onclick: () => {
                ctx.setSession({ token: ctx.session.token, role: 'operator', actAs: { id: x.id, name: x.name } });
                ctx.navigate('/clusters');
              },
            }),
            h('button', {
              type: 'button',
              class: 'secondary small',
              text: 'Edit quota',
              'aria-label': `Edit quota of ${x.name}`,
              dataset: { fk: `quota-${x.id}` },
              onclick: () => quotaDialog(ctx, x, refresh),
            }),
            actionButton({
              label: 'New API key',
              className: 'secondary small',
              ariaLabel: `New API key for ${x.name}`,
              fk: `key-${x.id}`,
              run: async () => {
                const key = await ctx.api.post(`/v1/tenants/${x.id}/api-keys`, { description: 'dashboard' });
                await secretDialog({
                  title: `New API key for ${x.name}`,
                  intro: 'Store it now: it is shown only this once.',
                  label: 'API key',
                  secret: key.apiKey,
                });
              },
            }),
          ),
        ),
      empty: { columns: t.columns, text: 'No tenants yet.' },
    });
    status.ok();
  };
  const { general } = handleSubmit(form, async (data) => {
    const created = await ctx.api.post('/v1/tenants', { name: String(data.get('name') ?? '').trim() });
    form.reset();
    await refresh();
    await secretDialog({
      title: `Tenant ${created.name} created`,
      intro: 'This is its API key. Store it now: it is shown only this once.',
      label: `API key of ${created.name}`,
      secret: created.apiKey,
    });
  });
  form.append(
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create tenant')),
    general.el,
  );

  ctx.main.append(pageHeader('Tenants'), section('New tenant', form), section('All tenants', t.el), status.el);
  await ctx.poll(async () => {
    try {
      await refresh();
    } catch (err) {
      if (ctx.alive()) status.failed(err);
    }
  }, TENANTS_POLL_MS);
}
