// The dashboard's shell: session, navigation, and a hash router whose views clean up after
// themselves (event streams close and polling stops when a view is left or the user signs out).
import { createClient, sessions } from './api.js';
import { h, replaceChildren } from './dom.js';
import { followView } from './live.js';
import { auditView } from './views/audit.js';
import { clusterDetailView } from './views/cluster-detail.js';
import { createClusterView } from './views/cluster-create.js';
import { clustersView } from './views/clusters.js';
import { floatingIpRangesView } from './views/floating-ip-ranges.js';
import { hostsView } from './views/hosts.js';
import { quotaView } from './views/quota.js';
import { signInView } from './views/sign-in.js';
import { floatingIpsView, storagePoolsView, vpcsView } from './views/tenant-resources.js';
import { tenantsView } from './views/tenants.js';

const TENANT_NAV = [
  ['/clusters', 'Clusters'],
  ['/storage-pools', 'Storage pools'],
  ['/vpcs', 'VPCs'],
  ['/floating-ips', 'Floating IPs'],
  ['/quota', 'Quota'],
];
const OPERATOR_NAV = [
  ['/tenants', 'Tenants'],
  ['/hosts', 'Hosts'],
  ['/floating-ip-ranges', 'Floating-IP ranges'],
  ['/audit', 'Audit log'],
];

const ROUTES = [
  { pattern: '/clusters', scope: 'tenant', view: clustersView },
  { pattern: '/clusters/new', scope: 'tenant', view: createClusterView },
  { pattern: '/clusters/:id', scope: 'tenant', view: clusterDetailView },
  { pattern: '/storage-pools', scope: 'tenant', view: storagePoolsView },
  { pattern: '/vpcs', scope: 'tenant', view: vpcsView },
  { pattern: '/floating-ips', scope: 'tenant', view: floatingIpsView },
  { pattern: '/quota', scope: 'tenant', view: quotaView },
  { pattern: '/tenants', scope: 'operator', view: tenantsView },
  { pattern: '/hosts', scope: 'operator', view: hostsView },
  { pattern: '/floating-ip-ranges', scope: 'operator', view: floatingIpRangesView },
  { pattern: '/audit', scope: 'operator', view: auditView },
].map((r) => ({
  ...r,
  regex: new RegExp(`^${r.pattern.replace(/:[a-z]+/g, '([0-9a-fA-F-]{36})')}$`),
}));

/** 'tenant' when the session acts on a tenant's resources (a tenant key, or the operator acting). */
function scopeOf(session) {
  return session.role === 'tenant' || session.actAs ? 'tenant' : 'operator';
}

function homeOf(session) {
  return scopeOf(session) === 'tenant' ? '/clusters' : '/tenants';
}

const state = { session: sessions.load(), cleanups: [], renderId: 0, flash: undefined, focusHeading: false };

function currentPath() {
  const hash = location.hash.replace(/^#/, '');
  return hash.startsWith('/') ? hash : '/';
}

function navigate(path) {
  if (currentPath() === path) render();
  else location.hash = `#${path}`;
}

function setSession(session) {
  state.session = session;
  if (session) sessions.save(session);
  else sessions.clear();
}

function signOut(message) {
  setSession(null);
  state.flash = message;
  if (currentPath() !== '/') history.replaceState(null, '', location.pathname);
  render();
}

function renderChrome(path) {
  const nav = document.getElementById('nav');
  const account = document.getElementById('account');
  const banner = document.getElementById('banner');
  const session = state.session;
  if (!session) {
    replaceChildren(nav);
    replaceChildren(account);
    replaceChildren(banner);
    return;
  }
  const items = scopeOf(session) === 'tenant' ? TENANT_NAV : OPERATOR_NAV;
  replaceChildren(
    nav,
    h(
      'ul',
      null,
      items.map(([href, label]) =>
        h(
          'li',
          null,
          h(
            'a',
            { href: `#${href}`, 'aria-current': path === href || path.startsWith(`${href}/`) ? 'page' : undefined },
            label,
          ),
        ),
      ),
    ),
  );
  const who =
    session.role === 'operator'
      ? h('span', { class: 'who' }, h('span', { class: 'badge badge-info' }, 'operator'))
      : h('span', { class: 'who' }, 'Tenant ', h('strong', null, session.tenant?.name ?? ''));
  const signOutButton = h('button', { type: 'button', class: 'secondary small' }, 'Sign out');
  signOutButton.addEventListener('click', () => signOut('Signed out.'));
  replaceChildren(account, who, signOutButton);
  if (session.actAs) {
    const back = h('button', { type: 'button', class: 'secondary small' }, 'Back to operator views');
    back.addEventListener('click', () => {
      setSession({ token: session.token, role: 'operator' });
      navigate('/tenants');
    });
    replaceChildren(
      banner,
      h(
        'div',
        { class: 'act-banner', role: 'region', 'aria-label': 'Acting as a tenant' },
        h('span', null, 'Viewing as tenant ', h('strong', null, session.actAs.name), ' with the operator token.'),
        back,
      ),
    );
  } else {
    replaceChildren(banner);
  }
}

async function render() {
  for (const fn of state.cleanups.splice(0)) fn();
  const renderId = ++state.renderId;
  const main = document.getElementById('main');
  const path = currentPath();
  const session = state.session;
  renderChrome(path);
  replaceChildren(main);
  const ctx = {
    main,
    session,
    navigate,
    alive: () => renderId === state.renderId,
    onCleanup: (fn) => state.cleanups.push(fn),
    setSession,
    signOut,
    /**
     * Runs fn now and then every ms until the view is left or fn answers false; skipped while the
     * tab is hidden.
     */
    poll(fn, ms) {
      let timer;
      let stopped = false;
      const tick = async () => {
        if (stopped) return;
        if (!document.hidden) {
          try {
            if ((await fn()) === false) stopped = true;
          } catch (err) {
            console.warn('refresh failed', err);
          }
        }
        if (!stopped) timer = setTimeout(tick, ms);
      };
      state.cleanups.push(() => {
        stopped = true;
        clearTimeout(timer);
      });
      return tick();
    },
    /**
     * Keeps a tenant view live from the event stream of its clusters (of one with `clusterId`):
     * fn runs now and again when their events arrive (see live.js), until the view is left or fn
     * answers false. One per view: each is a stream open to the API.
     */
    follow(fn, { clusterId, onState } = {}) {
      const live = followView({ api: ctx.api, clusterId, refresh: fn, onState });
      state.cleanups.push(live.stop);
      return live.first;
    },
  };
  if (!session) {
    document.title = 'Sign in · kaas';
    const flash = state.flash;
    state.flash = undefined;
    await signInView(ctx, {
      message: flash,
      onSignedIn(next) {
        setSession(next);
        const wanted = ROUTES.find((r) => r.regex.test(path));
        navigate(wanted && wanted.scope === scopeOf(next) ? path : homeOf(next));
      },
    });
    return;
  }
  const route = ROUTES.find((r) => r.regex.test(path));
  if (!route || route.scope !== scopeOf(session)) {
    history.replaceState(null, '', `#${homeOf(session)}`);
    render();
    return;
  }
  ctx.params = route.regex.exec(path).slice(1);
  ctx.api = createClient(session.token, {
    tenantId: session.actAs?.id,
    onUnauthorized: () => signOut('Your key is no longer accepted. Sign in again.'),
  });
  try {
    await route.view(ctx);
  } catch (err) {
    if (!ctx.alive()) return;
    main.append(
      h(
        'div',
        { class: 'panel panel-error', role: 'alert' },
        h('h1', { tabindex: '-1' }, 'This page could not be loaded'),
        h('p', null, err?.message ?? String(err)),
        err?.requestId ? h('p', { class: 'request-id' }, `request ${err.requestId}`) : null,
      ),
    );
  }
  if (ctx.alive()) {
    const heading = main.querySelector('h1');
    if (heading) {
      document.title = `${heading.textContent} · kaas`;
      if (state.focusHeading) heading.focus({ preventScroll: false });
    }
    state.focusHeading = true;
  }
}

window.addEventListener('hashchange', () => render());
window.addEventListener('DOMContentLoaded', () => {
  document.getElementById('skip-link')?.addEventListener('click', (event) => {
    event.preventDefault();
    document.getElementById('main')?.focus();
  });
  render();
});
