// Small DOM helpers. Everything is built with createElement and textContent: no HTML strings, so
// names and messages from the API can never become markup.

/**
 * h('button', { class: 'primary', onclick: fn }, 'Save')
 * Props: `class`, `text`, `dataset`, `on<event>` handlers, booleans (present when true), `value`
 * (set after the children, so a select picks its option), anything else as an attribute.
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  let value;
  for (const [key, v] of Object.entries(props ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (key === 'class') el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    else if (key === 'text') el.textContent = String(v);
    else if (key === 'dataset') Object.assign(el.dataset, v);
    else if (key === 'value') value = v;
    else if (key.startsWith('on') && typeof v === 'function') el.addEventListener(key.slice(2).toLowerCase(), v);
    else if (v === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(v));
  }
  append(el, children);
  if (value !== undefined) el.value = String(value);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function replaceChildren(el, ...children) {
  clear(el);
  return append(el, children);
}

let idCounter = 0;
export function uid(prefix = 'id') {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/** A table in a horizontally scrolling wrapper (narrow screens), with a caption for screen readers. */
export function table({ caption, columns, className }) {
  const tbody = h('tbody');
  const el = h(
    'div',
    { class: ['table-wrap', className] },
    h(
      'table',
      null,
      caption ? h('caption', { class: 'visually-hidden' }, caption) : null,
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          columns.map((c) => h('th', { scope: 'col' }, c)),
        ),
      ),
      tbody,
    ),
  );
  return { el, tbody, columns: columns.length };
}

/** Names each cell after its column, so narrow screens can show rows as labelled cards. */
export function labelCells(tbody, row) {
  const headers = tbody.parentElement?.tHead?.rows[0]?.cells ?? [];
  [...row.cells].forEach((cell, i) => {
    if (headers[i]) cell.dataset.label = headers[i].textContent;
  });
  return row;
}

/**
 * Keeps a tbody in step with a list without rebuilding rows that did not change, and puts focus
 * back on the same control (by its data-fk) when a row it was in is rebuilt: a refresh must not
 * steal the keyboard user's place.
 */
export function syncRows(tbody, items, { key, signature = (item) => JSON.stringify(item), render, empty }) {
  const existing = new Map([...tbody.children].filter((r) => r.dataset.key).map((r) => [r.dataset.key, r]));
  const active = document.activeElement;
  const focusKey = active && tbody.contains(active) ? active.dataset.fk : undefined;
  const rows = [];
  for (const item of items) {
    const k = key(item);
    const sig = signature(item);
    let row = existing.get(k);
    if (!row || row.dataset.sig !== sig) {
      row = labelCells(tbody, render(item));
      row.dataset.key = k;
      row.dataset.sig = sig;
    }
    rows.push(row);
  }
  if (!items.length && empty) rows.push(h('tr', { class: 'empty' }, h('td', { colspan: empty.columns }, empty.text)));
  const same = rows.length === tbody.children.length && rows.every((r, i) => tbody.children[i] === r);
  if (!same) replaceChildren(tbody, rows);
  if (focusKey && !tbody.contains(document.activeElement)) {
    const again = tbody.querySelector(`[data-fk="${CSS.escape(focusKey)}"]`);
    if (again) again.focus();
  }
}

/** A horizontal bar for a used/limit pair, readable by assistive technology as a meter. */
export function bar({ label, ariaLabel = label, used, limit, text, className }) {
  const ratio = limit > 0 ? Math.min(1, used / limit) : used > 0 ? 1 : 0;
  const fill = h('span', { class: 'bar-fill' });
  fill.style.width = `${Math.round(ratio * 1000) / 10}%`;
  const level = ratio >= 0.9 ? 'bar-high' : ratio >= 0.7 ? 'bar-mid' : 'bar-low';
  return h(
    'div',
    { class: ['bar-row', className] },
    h('span', { class: 'bar-label' }, label),
    h(
      'span',
      {
        class: ['bar', level],
        role: 'meter',
        'aria-label': ariaLabel,
        'aria-valuemin': 0,
        'aria-valuemax': limit,
        'aria-valuenow': Math.min(used, limit),
        'aria-valuetext': text,
      },
      fill,
    ),
    h('span', { class: 'bar-text' }, text),
  );
}

export function badge(text, tone) {
  return h('span', { class: ['badge', `badge-${tone}`] }, text);
}

let toastTimer;
/** A short message in the polite live region (what just happened). */
export function toast(message) {
  const el = document.getElementById('toast');
  if (!el) return;
  el.textContent = message;
  el.classList.add('toast-visible');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove('toast-visible'), 5000);
}
