// Pieces shared by the views.
import { h } from '../dom.js';
import { FALLBACK_MS } from '../live.js';

/**
 * A cluster being deleted goes away without an event of its own (its events go with it): while one
 * is shown, the view looks again this often.
 */
export const DELETING_RECHECK_MS = 5000;

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

/** A quiet line under a polled table: when it was refreshed, or why it could not be. */
export function refreshStatus(ms) {
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

/**
 * The same line under a view that follows the event stream (ctx.follow): "Live" while the stream
 * is open, "Reconnecting" while it is not. `connection` takes the stream's state.
 */
export function liveStatus() {
  const el = h('p', { class: 'refresh-status live-status', dataset: { stream: 'connecting' } });
  let updated;
  let error;
  const show = () => {
    el.classList.toggle('stale', Boolean(error));
    if (error) {
      el.textContent = `Could not refresh: ${error.message ?? error}. Retrying.`;
      return;
    }
    const when = updated ? `updated ${updated.toLocaleTimeString()}` : '';
    el.textContent =
      el.dataset.stream === 'live'
        ? `Live${when ? `: ${when}` : ''}.`
        : `Reconnecting to live updates; refreshing every ${FALLBACK_MS / 1000} s meanwhile${when ? `, ${when}` : ''}.`;
  };
  return {
    el,
    ok() {
      updated = new Date();
      error = undefined;
      show();
    },
    failed(err) {
      error = err;
      show();
    },
    connection(state) {
      el.dataset.stream = state;
      show();
    },
  };
}

export function linkButton(href, label, className = 'button primary') {
  return h('a', { href, class: className }, label);
}
