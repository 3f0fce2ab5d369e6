import { bar, h, syncRows, table, toast } from '../dom.js';
import { field, handleSubmit } from '../forms.js';
import { pageHeader, section } from './common.js';

/** Operator: the floating-IP ranges tenants allocate from, with their used and free counts. */
export async function floatingIpRangesView(ctx) {
  const t = table({ caption: 'Floating-IP ranges', columns: ['Range', 'First', 'Last', 'Used of total', 'Free'] });
  const refresh = async () => {
    const page = await ctx.api.get('/v1/floating-ip-ranges');
    if (!ctx.alive()) return;
    syncRows(t.tbody, page.items ?? [], {
      key: (r) => r.id,
      render: (r) =>
        h(
          'tr',
          null,
          h('th', { scope: 'row', class: 'mono' }, r.cidr ?? `${r.start}–${r.end}`),
          h('td', { class: 'mono' }, r.start),
          h('td', { class: 'mono' }, r.end),
          h(
            'td',
            null,
            bar({
              label: `${r.cidr ?? r.start} used`,
              used: r.used,
              limit: r.total,
              text: `${r.used} of ${r.total}`,
              className: 'bar-compact',
            }),
          ),
          h('td', null, String(r.free)),
        ),
      empty: { columns: t.columns, text: 'No ranges yet: tenants cannot allocate floating IPs until one is added.' },
    });
  };

  const cidr = field({
    label: 'CIDR',
    name: 'cidr',
    hint: 'For example 10.250.0.0/24 (/16 to /29). Or leave empty and give a first and last address.',
    attrs: { autocomplete: 'off', spellcheck: 'false', maxlength: 18 },
  });
  const start = field({ label: 'First address', name: 'start', attrs: { autocomplete: 'off', maxlength: 15 } });
  const end = field({ label: 'Last address', name: 'end', attrs: { autocomplete: 'off', maxlength: 15 } });
  const form = h('form', { class: 'inline-form' }, cidr.el, start.el, end.el);
  const { general } = handleSubmit(form, async (data) => {
    const body = {};
    for (const key of ['cidr', 'start', 'end']) {
      const value = String(data.get(key) ?? '').trim();
      if (value) body[key] = value;
    }
    const range = await ctx.api.post('/v1/floating-ip-ranges', body);
    form.reset();
    toast(`Range ${range.cidr ?? `${range.start}–${range.end}`} added (${range.total} addresses).`);
    await refresh();
  });
  form.append(
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'primary' }, 'Add range')),
    general.el,
  );
  ctx.main.append(pageHeader('Floating-IP ranges'), section('New range', form), section('Ranges', t.el));
  await refresh();
}
