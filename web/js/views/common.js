// Pieces shared by the views.
import { h } from '../dom.js';

/** How often live views ask the API again. */
export const POLL_MS = 2000;

/** The page title (focused after navigation) and the page's main actions. */
export function pageHeader(title, ...actions) {
  return h(
    'div',
    { class: 'page-head' },
    h('h1', { tabindex: '-1' }, title),
    actions.length ? h('div', { class: 'page-actions' }, actions) : null,
  );
}

export function section(title, ...children) {
  const id = `s-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return h('section', { class: 'panel', 'aria-labelledby': id }, h('h2', { id }, title), children);
}

/** A quiet line under a live table: when it was refreshed, or why it could not be. */
export function refreshStatus(ms = POLL_MS) {
  const el = h('p', { class: 'refresh-status' });
  return {
    el,
    ok() {
      el.classList.remove('stale');
      el.textContent = `Updated ${new Date().toLocaleTimeString()}; refreshes every ${ms / 1000} s.`;
    },
    failed(err) {
      el.classList.add('stale');
      el.textContent = `Could not refresh: ${err?.message ?? err}. Retrying.`;
    },
  };
}

export function linkButton(href, label, className = 'button primary') {
  return h('a', { href, class: className }, label);
}
