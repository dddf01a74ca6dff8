// Audit log: who changed what in a team, newest first, one readable line per event, filtered
// by action family and by person. Owners and admins of the team (and superusers) may read it.

const AUDIT_PAGE_SIZE = 25;

/** The action families of the filter: [prefix, label]; '' shows every action. */
const AUDIT_FAMILIES = [
  ['', 'All'],
  ['auth.', 'Sign-ins'],
  ['session.', 'Sessions'],
  ['user.', 'Users'],
  ['member.', 'Members'],
  ['project.', 'Projects'],
  ['api_key.', 'API keys'],
  ['content.', 'Content'],
  ['signing_key.', 'Signing keys'],
];

const CONTENT_TYPE_NAMES = { changelog: 'changelog', blog: 'blog post', kb: 'KB article set' };

/** Whether the signed-in person may read the audit log of the selected team. */
function canReadAudit() {
  if (!ctx.me) return false;
  if (ctx.me.is_superuser) return true;
  const team = currentTeam(null);
  return Boolean(team) && canManage(teamRole(team.id));
}

/** "30 s", "15 min", "1 h", "2 d": an overlap or a duration, rounded to its largest unit. */
function shortDuration(seconds) {
  if (seconds >= 86400 && seconds % 86400 === 0) return `${seconds / 86400} d`;
  if (seconds >= 3600 && seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds >= 60 && seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

/** Who did it, as a reader says it. */
function auditActor(actor) {
  const label = actor && actor.label;
  switch (actor && actor.type) {
    case 'user':
      return label || 'A user';
    case 'key':
      return `API key ${label || ''}`.trim();
    case 'cli':
      return label ? `${label} (on the server)` : 'A command on the server';
    case 'system':
      return 'The server';
    default:
      return 'Someone';
  }
}

/** A list of field names as words: "name and expiry". */
function fieldWords(fields) {
  const words = (Array.isArray(fields) ? fields : []).map((f) =>
    f === 'expires_at' ? 'expiry' : String(f).replace(/_/g, ' '),
  );
  if (words.length < 2) return words.join('');
  return `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;
}

/** What was done, to what: "rolled API key sk_live_AbC12xYz (overlap 1 h)". */
function auditWhat(event) {
  const target = (event.target && (event.target.label || event.target.id)) || '';
  const d = event.details || {};
  const changed = (what) => {
    const words = fieldWords(d.fields);
    return words ? `${what} (${words})` : what;
  };
  switch (event.action) {
    case 'auth.login_succeeded':
      return 'signed in';
    case 'auth.login_failed':
      return target ? `failed to sign in as ${target}` : 'failed to sign in with an unknown email';
    case 'auth.logout':
      return 'signed out';
    case 'session.revoked':
      return target ? `ended sessions of ${target}` : 'ended a session';
    case 'session.reuse_detected':
      return `reused an old session token${target ? ` of ${target}` : ''}; the session was ended`;
    case 'user.created':
      return `created user ${target}`;
    case 'user.updated':
      return changed(`changed user ${target}`);
    case 'user.password_changed':
      return `changed the password of ${target}`;
    case 'user.deactivated':
      return `deactivated user ${target}`;
    case 'user.activated':
      return `activated user ${target}`;
    case 'team.created':
      return `created team ${target}`;
    case 'member.added':
      return `added ${target}${d.role ? ` as ${d.role}` : ''}`;
    case 'member.role_changed':
      return d.old_role && d.new_role
        ? `changed the role of ${target} from ${d.old_role} to ${d.new_role}`
        : `changed the role of ${target}`;
    case 'member.removed':
      return `removed ${target} from the team`;
    case 'project.created':
      return `created project ${target}`;
    case 'api_key.created':
      return `created API key ${target}${d.name ? ` (${d.name})` : ''}`;
    case 'api_key.updated':
      return changed(`changed API key ${target}`);
    case 'api_key.deactivated':
      return `deactivated API key ${target}`;
    case 'api_key.activated':
      return `activated API key ${target}`;
    case 'api_key.rolled':
      return typeof d.overlap_seconds === 'number' && d.overlap_seconds > 0
        ? `rolled API key ${target} (overlap ${shortDuration(d.overlap_seconds)})`
        : `rolled API key ${target} (no overlap)`;
    case 'api_key.deleted':
      return `deleted API key ${target}`;
    case 'api_key.first_use_from_new_ip':
      return `used API key ${target} from a new address`;
    case 'api_key.reported_leaked':
      return `reported API key ${target} as leaked`;
    case 'content.created':
      return `created ${CONTENT_TYPE_NAMES[d.type] || 'content'} “${target}”`;
    case 'content.updated':
      return changed(`edited “${target}”`);
    case 'content.published':
      return d.slug ? `published “${target}” as ${d.slug}` : `published “${target}”`;
    case 'content.unpublished':
      return `unpublished “${target}”`;
    case 'content.deleted':
      return `deleted ${CONTENT_TYPE_NAMES[d.type] || 'content'} “${target}”`;
    case 'signing_key.rotated':
      return 'rotated the token signing key';
    case 'signing_key.retired':
      return `retired signing key ${target}`;
    default:
      return `${event.action}${target ? ` ${target}` : ''}`;
  }
}

/** One event as one line: "who did what · where · when". */
function auditLine(event) {
  // A key's first use from a new address is the key's own doing: "API key X was used from a
  // new address" reads better than naming the key twice.
  const sentence =
    event.action === 'api_key.first_use_from_new_ip'
      ? `API key ${(event.target && event.target.label) || ''} was used from a new address`
      : `${auditActor(event.actor)} ${auditWhat(event)}`;
  const parts = [sentence];
  if (event.ip) parts.push(event.ip);
  return h(
    'li',
    { class: 'audit-event', 'data-action': event.action, 'data-event-id': event.id },
    h('span', { class: 'audit-text' }, `${parts.join(' · ')} · `),
    timeEl(event.at, relativeTime(event.at)),
  );
}

function renderAudit(container, query) {
  if (!ctx.teams.length) {
    container.append(
      pageHeader('Audit log', null),
      h(
        'section',
        { class: 'card' },
        empty({ icon: 'people', title: 'No teams yet', text: 'Each team has its own log.' }),
      ),
    );
    return;
  }
  const team = currentTeam(query.get('team'));
  const family = AUDIT_FAMILIES.some(([prefix]) => prefix === query.get('action')) ? query.get('action') : '';
  const actor = query.get('actor') || '';
  const page = Math.max(0, Number.parseInt(query.get('page') || '0', 10) || 0);
  const state = { team: team.id, action: family, actor };
  container.append(
    pageHeader(
      'Audit log',
      'Every change in this team and its projects: who made it, from which address, and when. Newest first.',
      teamPicker(team, (id) => go('/audit', { team: id })),
    ),
  );
  if (!ctx.me.is_superuser && !canManage(teamRole(team.id))) {
    container.append(
      h(
        'div',
        { class: 'alert alert-info', role: 'status' },
        `Only owners and admins of ${team.name} can read its audit log.`,
      ),
    );
    return;
  }

  const familyField = selectField({
    label: 'Action',
    name: 'action',
    value: family,
    options: AUDIT_FAMILIES,
    attrs: { id: 'audit-action-filter' },
  });
  const personField = selectField({
    label: 'Person',
    name: 'actor',
    value: '',
    options: [['', 'Everyone']],
    attrs: { id: 'audit-actor-filter' },
  });
  const applyButton = h('button', { type: 'submit', class: 'btn btn-sm', id: 'audit-apply' }, 'Apply filters');
  const filters = h(
    'form',
    { class: 'filters', 'aria-label': 'Filter the audit log' },
    familyField.wrap,
    personField.wrap,
    h('div', { class: 'filters-apply' }, applyButton),
  );
  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    go('/audit', { ...state, action: familyField.input.value, actor: personField.input.value, page: null });
  });
  const body = h('div', {}, loading());
  container.append(h('section', { class: 'card', 'aria-label': 'Events' }, filters, body));

  const teamPath = `/api/internal/teams/${encodeURIComponent(team.id)}`;

  async function loadPeople() {
    try {
      const members = await api('GET', `${teamPath}/members`);
      const options = members.map((m) => h('option', { value: m.user_id }, m.email));
      personField.input.append(...options);
      // Someone no longer in the team is kept selectable while their events are shown.
      if (actor && !members.some((m) => m.user_id === actor)) {
        personField.input.append(h('option', { value: actor }, 'A former member'));
      }
      personField.input.value = actor;
    } catch {
      // The list of people is a convenience: the log shows without it.
    }
  }

  async function load() {
    const params = new URLSearchParams({
      limit: String(AUDIT_PAGE_SIZE),
      offset: String(page * AUDIT_PAGE_SIZE),
    });
    if (family) params.set('action', family);
    if (actor) params.set('actor_id', actor);
    try {
      const { items, total } = await api('GET', `${teamPath}/audit-log?${params}`, { withTotal: true });
      if (!items.length && page === 0) {
        body.replaceChildren(
          empty({
            icon: 'document',
            title: family || actor ? 'Nothing matches these filters' : 'Nothing recorded yet',
            text: family || actor ? 'Change the filters to see other events.' : 'Changes in this team appear here.',
          }),
        );
        return;
      }
      const first = page * AUDIT_PAGE_SIZE + (items.length ? 1 : 0);
      const last = Math.min(total, page * AUDIT_PAGE_SIZE + items.length);
      body.replaceChildren(
        h('ol', { class: 'audit-list', 'aria-label': `Events of ${team.name}` }, items.map(auditLine)),
        h(
          'div',
          { class: 'pager card-footer' },
          h('span', {}, `${first}–${last} of ${total}`),
          h(
            'div',
            { class: 'row' },
            button('Previous', {
              class: 'btn btn-sm',
              disabled: page === 0,
              onclick: () => go('/audit', { ...state, page: page - 1 }),
            }),
            button('Next', {
              class: 'btn btn-sm',
              disabled: last >= total,
              onclick: () => go('/audit', { ...state, page: page + 1 }),
            }),
          ),
        ),
      );
    } catch (err) {
      body.replaceChildren(errorBox(err));
    }
  }
  loadPeople();
  load();
}
