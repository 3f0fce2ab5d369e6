import { ApiError } from '../api.js';
import { badge, h, labelCells, replaceChildren, table } from '../dom.js';
import { dateTime } from '../format.js';
import { field, handleSubmit } from '../forms.js';
import { pageHeader, section } from './common.js';

const PAGE = 50;

function who(item, tenants) {
  const name = (id) => tenants.get(id) ?? id;
  const actor = item.actor ?? {};
  if (actor.kind === 'admin') {
    return h(
      'span',
      null,
      badge('operator', 'info'),
      item.tenantId ? h('div', { class: 'hint' }, `for tenant ${name(item.tenantId)}`) : null,
    );
  }
  return h(
    'span',
    null,
    actor.tenantId ? name(actor.tenantId) : 'tenant',
    actor.apiKeyId ? h('div', { class: 'hint mono' }, `key ${actor.apiKeyId.slice(0, 8)}`) : null,
  );
}

function auditRow(item, tenants) {
  const resource = item.resourceKind
    ? `${item.resourceKind}${item.resourceId ? ` ${item.resourceId.slice(0, 8)}` : ''}`
    : '–';
  return h(
    'tr',
    null,
    h('th', { scope: 'row' }, h('time', { datetime: item.at }, dateTime(item.at))),
    h('td', null, who(item, tenants)),
    h('td', { class: 'mono' }, `${item.method} ${item.path}`),
    h('td', null, resource),
    h('td', null, badge(`${item.statusCode} ${item.outcome}`, item.outcome === 'success' ? 'ok' : 'bad')),
    h('td', { class: 'mono' }, item.sourceIp ?? '–'),
    h('td', { class: 'mono hint' }, item.requestId ?? ''),
  );
}

/** Operator: who changed what (GET /v1/audit), newest first, a page at a time, with filters. */
export async function auditView(ctx) {
  ctx.main.append(pageHeader('Audit log'));
  let first;
  try {
    first = await ctx.api.get(`/v1/audit?limit=${PAGE}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      ctx.main.append(
        h(
          'div',
          { class: 'panel notice', role: 'status' },
          h('h2', null, 'The audit log is not available'),
          h(
            'p',
            null,
            'This API server has no audit log (GET /v1/audit answered 404). It shows here once the server keeps one.',
          ),
        ),
      );
      return;
    }
    throw err;
  }
  const tenantList = await ctx.api.all('/v1/tenants').catch(() => []);
  const tenants = new Map(tenantList.map((x) => [x.id, x.name]));

  const tenant = field({
    label: 'Tenant',
    name: 'tenantId',
    type: 'select',
    options: [{ value: '', label: 'All tenants' }, ...tenantList.map((x) => ({ value: x.id, label: x.name }))],
  });
  const outcome = field({
    label: 'Outcome',
    name: 'outcome',
    type: 'select',
    options: [
      { value: '', label: 'Any' },
      { value: 'success', label: 'Succeeded' },
      { value: 'failure', label: 'Failed' },
    ],
  });
  const filters = h('form', { class: 'inline-form', 'aria-label': 'Filter the audit log' }, tenant.el, outcome.el);

  const t = table({
    caption: 'Audit log entries',
    columns: ['When', 'Who', 'Request', 'Resource', 'Status', 'Source', 'Request id'],
  });
  const more = h('button', { type: 'button', class: 'secondary' }, 'Load older entries');
  const status = h('p', { class: 'refresh-status', role: 'status' });
  let query = '';
  let cursor;
  const show = (page, reset) => {
    if (reset) replaceChildren(t.tbody);
    t.tbody.append(...(page.items ?? []).map((item) => labelCells(t.tbody, auditRow(item, tenants))));
    cursor = page.nextCursor;
    more.hidden = !cursor;
    if (!t.tbody.children.length) {
      t.tbody.append(h('tr', { class: 'empty' }, h('td', { colspan: t.columns }, 'No entries.')));
    }
    status.textContent = `${t.tbody.querySelectorAll('tr:not(.empty)').length} entries shown.`;
  };
  const { general } = handleSubmit(filters, async (data) => {
    const params = new URLSearchParams({ limit: String(PAGE) });
    for (const key of ['tenantId', 'outcome']) {
      const value = String(data.get(key) ?? '');
      if (value) params.set(key, value);
    }
    query = params.toString();
    show(await ctx.api.get(`/v1/audit?${query}`), true);
  });
  filters.append(
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, 'Apply')),
    general.el,
  );
  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      const params = new URLSearchParams(query || `limit=${PAGE}`);
      params.set('cursor', cursor);
      show(await ctx.api.get(`/v1/audit?${params}`), false);
    } catch (err) {
      status.textContent = `Could not load more: ${err.message}`;
    } finally {
      more.disabled = false;
    }
  });
  ctx.main.append(
    section('Filter', filters),
    section('Changes, newest first', t.el, h('div', { class: 'form-actions' }, more), status),
  );
  show(first, true);
}
