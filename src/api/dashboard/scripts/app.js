// The dashboard's entry point: the shell (sidebar and main area), the router and the
// signed-in / signed-out switch.
//
// Routing works on the URL fragment (`/dashboard#/keys?project=...`), so the server serves one
// page and every view has a link that can be bookmarked or opened in a new tab.

const NAV = [
  ['keys', 'API Keys'],
  ['usage', 'Usage'],
  ['content', 'Content'],
  ['team', 'Team'],
  ['audit', 'Audit log'],
  ['account', 'Account'],
];

const ROUTES = [
  { nav: 'keys', title: 'API Keys', pattern: /^\/keys$/, render: (el, q) => renderKeys(el, q) },
  { nav: 'usage', title: 'Usage', pattern: /^\/usage$/, render: (el, q) => renderUsage(el, q) },
  { nav: 'content', title: 'Content', pattern: /^\/content$/, render: (el, q) => renderContentList(el, q) },
  {
    nav: 'content',
    title: 'New content',
    pattern: /^\/content\/new\/(changelog|blog|kb)$/,
    render: (el, q, m) => renderEditor(el, { type: m[1], project: q.get('project') }),
  },
  {
    nav: 'content',
    title: 'Edit content',
    pattern: /^\/content\/([0-9a-fA-F-]{36})$/,
    render: (el, q, m) => renderEditor(el, { id: m[1] }),
  },
  { nav: 'team', title: 'Team', pattern: /^\/team$/, render: (el, q) => renderTeam(el, q) },
  { nav: 'audit', title: 'Audit log', pattern: /^\/audit$/, render: (el, q) => renderAudit(el, q) },
  { nav: 'account', title: 'Account', pattern: /^\/account$/, render: (el) => renderAccount(el) },
];

const root = document.getElementById('root');
let shell = null;
let cleanups = [];
let firstRender = true;

/** Parses `#/path?query` into its path and query. */
function currentLocation() {
  const raw = location.hash.startsWith('#/') ? location.hash.slice(1) : '/keys';
  const [path, query = ''] = raw.split('?');
  return { path, query: new URLSearchParams(query) };
}

function buildShell() {
  const navLinks = NAV.map(([key, label]) => h('li', {}, h('a', { href: `#/${key}`, 'data-nav': key }, label)));
  const main = h('main', { class: 'main', id: 'main', tabindex: '-1' });
  const email = h('span', { class: 'user-email', id: 'user-email' });
  const signOutButton = h(
    'button',
    {
      type: 'button',
      class: 'btn btn-sm',
      id: 'sign-out',
      onclick: () => {
        signOutButton.disabled = true;
        signOut();
      },
    },
    'Sign out',
  );
  const skip = h(
    'a',
    {
      class: 'skip-link btn',
      href: '#main',
      onclick: (event) => {
        event.preventDefault();
        main.focus();
      },
    },
    'Skip to content',
  );
  const layout = h(
    'div',
    { class: 'app' },
    skip,
    h(
      'aside',
      { class: 'sidebar' },
      h(
        'a',
        { class: 'brand', href: '#/keys' },
        h('img', { src: '/dashboard/assets/icon.svg', alt: '', width: '28', height: '28' }),
        h('span', {}, 'shipstar'),
      ),
      h('nav', { class: 'nav', 'aria-label': 'Main' }, h('ul', {}, navLinks)),
      h('div', { class: 'sidebar-footer' }, email, signOutButton),
    ),
    main,
  );
  root.replaceChildren(layout);
  return { main, email, layout };
}

function showSignIn(notice) {
  runCleanups();
  shell = null;
  ctx.me = null;
  renderSignIn(root, {
    notice,
    onSignedIn: async () => {
      firstRender = true;
      await render();
    },
  });
}

function runCleanups() {
  for (const fn of cleanups) {
    try {
      fn();
    } catch {
      // A page's cleanup failing must not stop navigation.
    }
  }
  cleanups = [];
}

async function render() {
  if (!token()) {
    showSignIn(null);
    return;
  }
  if (!ctx.me) {
    root.replaceChildren(h('main', { class: 'auth-page' }, h('p', { class: 'loading', role: 'status' }, 'Loading…')));
    try {
      await loadContext();
    } catch (err) {
      if (!token()) return; // the session ended; the sign-in page is showing
      root.replaceChildren(
        h('main', { class: 'auth-page' }, h('div', { class: 'auth-card' }, errorBox(describe(err)))),
      );
      return;
    }
  }
  if (!shell || !shell.layout.isConnected) {
    shell = buildShell();
  }
  shell.email.textContent = ctx.me.email;
  shell.email.title = ctx.me.email;

  const { path, query } = currentLocation();
  const route = ROUTES.find((r) => r.pattern.test(path)) || ROUTES[0];
  const match = path.match(route.pattern) || [];
  // The audit log is for owners and admins of the selected team (and superusers); the entry
  // follows the team chosen on any page.
  const auditLink = shell.main.ownerDocument.querySelector('[data-nav="audit"]');
  if (auditLink) auditLink.parentElement.hidden = !canReadAudit() && route.nav !== 'audit';
  for (const link of shell.main.ownerDocument.querySelectorAll('[data-nav]')) {
    if (link.dataset.nav === route.nav) {
      link.setAttribute('aria-current', 'page');
    } else {
      link.removeAttribute('aria-current');
    }
  }
  runCleanups();
  // Each view renders into its own container: a slow answer for a view already left lands
  // in a detached element instead of the current page.
  const container = h('div', { class: 'page' });
  shell.main.replaceChildren(container);
  document.title = `${route.title} · shipstar`;
  const cleanup = route.render(container, query, match);
  if (typeof cleanup === 'function') cleanups.push(cleanup);
  if (!firstRender) {
    const heading = container.querySelector('#page-title');
    (heading || shell.main).focus();
  }
  firstRender = false;
}

onSignedOut((message) => showSignIn(message));
window.addEventListener('hashchange', () => {
  if (location.hash.startsWith('#/')) render();
});
render();
