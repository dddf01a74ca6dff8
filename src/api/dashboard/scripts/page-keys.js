// API Keys: the keys of one project; create (shown once), deactivate and reactivate, roll,
// delete, and each key's activity (the addresses and user agents that used it in the last 30
// days). Members see the list and the activity without the buttons; the API enforces the same
// rule. A key switched off by a leak report says so.

const EXPIRY_CHOICES = [
  ['', 'Never'],
  ['7', 'In 7 days'],
  ['30', 'In 30 days'],
  ['90', 'In 90 days'],
  ['365', 'In 1 year'],
  ['custom', 'Custom…'],
];

const OVERLAP_CHOICES = [
  [0, 'Immediately'],
  [3600, 'After 1 hour'],
  [86400, 'After 24 hours'],
  [604800, 'After 7 days'],
  [2592000, 'After 30 days'],
];

/** Active, Inactive or Expired, with the badge colour. */
function keyStatus(key, now = Date.now()) {
  if (!key.is_active) return { label: 'Inactive', kind: '', code: 'inactive' };
  if (key.expires_at && Date.parse(key.expires_at) <= now) {
    return { label: 'Expired', kind: 'warning', code: 'expired' };
  }
  return { label: 'Active', kind: 'success', code: 'active' };
}

/** An address first seen less than this long ago is marked "new" in a key's activity. */
const NEW_ADDRESS_MS = 24 * 3600 * 1000;

/**
 * Why a key is off when a leak report switched it off, or null. The URL is the reporter's
 * text: it is shown as text, never as a link.
 */
function leakNote(key) {
  if (key.is_active || key.deactivated_reason !== 'leak_reported') return null;
  return h(
    'p',
    { class: 'hint', 'data-reason': 'leak_reported' },
    'Switched off: reported as leaked on ',
    key.deactivated_at ? timeEl(key.deactivated_at, formatDate(key.deactivated_at)) : 'an unknown date',
    key.leak_report_url ? ` (${key.leak_report_url})` : '',
  );
}

/** One list of a key's activity (`field` is `ip` or `user_agent`), most recent first. */
function activityTable(entries, field, caption, now = Date.now()) {
  if (!entries.length) {
    return h('p', { class: 'muted', 'data-empty': field }, 'No use in the last 30 days.');
  }
  const rows = entries.map((entry) => {
    const fresh = field === 'ip' && now - Date.parse(entry.first_seen_at) < NEW_ADDRESS_MS;
    return h(
      'tr',
      { 'data-activity': field, 'data-value': entry[field] },
      td(field === 'ip' ? 'Address' : 'User agent', [
        h('code', {}, entry[field]),
        fresh ? [' ', h('span', { class: 'badge badge-accent', 'data-new': 'true' }, 'new')] : null,
      ]),
      td('First seen', timeEl(entry.first_seen_at, relativeTime(entry.first_seen_at)), { class: 'nowrap' }),
      td('Last seen', timeEl(entry.last_seen_at, relativeTime(entry.last_seen_at)), { class: 'nowrap' }),
      td('Requests', formatNumber(entry.requests)),
    );
  });
  return table([field === 'ip' ? 'Address' : 'User agent', 'First seen', 'Last seen', 'Requests'], rows, caption);
}

/** The key detail: its state (and why it is off) and who used it in the last 30 days. */
function openKeyDetail(key) {
  const ips = h('div', { id: 'key-activity-ips' }, loading());
  const agents = h('div', { id: 'key-activity-agents' }, loading());
  openDialog({
    id: 'key-detail-dialog',
    title: `“${key.name}”`,
    intro: `${key.key_prefix}… · ${keyStatus(key).label}`,
    body: [
      leakNote(key),
      h('h3', {}, 'Addresses'),
      h(
        'p',
        { class: 'hint' },
        'Client addresses that used this key in the last 30 days, most recent first. ',
        'Addresses first seen in the last 24 hours are marked new.',
      ),
      ips,
      h('h3', {}, 'User agents'),
      agents,
    ],
    submitLabel: 'Close',
    cancelLabel: null,
  });
  api('GET', keyPath(key, '/activity')).then(
    (activity) => {
      ips.replaceChildren(activityTable(activity.ips, 'ip', `Addresses that used ${key.name}`));
      agents.replaceChildren(activityTable(activity.user_agents, 'user_agent', `User agents of ${key.name}`));
    },
    (err) => {
      ips.replaceChildren(errorBox(err));
      agents.replaceChildren();
    },
  );
}

function keyPath(key, suffix = '') {
  return `/api/internal/api-keys/${encodeURIComponent(key.id)}${suffix}`;
}

/** The one-time reveal of a new key, with a copy button. The key leaves the DOM on close. */
function reveal(created, rolled) {
  const warningId = uid('key-warning');
  const input = h('input', {
    id: 'revealed-key',
    type: 'text',
    readonly: true,
    value: created.key,
    spellcheck: 'false',
    autocomplete: 'off',
    'aria-describedby': warningId,
  });
  const status = h('p', { class: 'hint', role: 'status', 'aria-live': 'polite' });
  const copy = h(
    'button',
    {
      type: 'button',
      class: 'btn',
      id: 'copy-key',
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(input.value);
          status.textContent = 'Copied to the clipboard.';
        } catch {
          input.focus();
          input.select();
          status.textContent = 'The key is selected: press Ctrl+C (⌘C on a Mac) to copy it.';
        }
      },
    },
    'Copy',
  );
  openDialog({
    id: 'reveal-dialog',
    title: rolled ? 'Your new API key' : 'API key created',
    intro: rolled
      ? `“${created.name}” was rolled. Put the new key in your programs.`
      : `“${created.name}” is ready to use.`,
    body: [
      h(
        'div',
        { class: 'alert alert-warning', id: warningId },
        h('strong', {}, 'Copy this key now. '),
        'It will not be shown again: shipstar keeps only a hash of it.',
      ),
      h(
        'div',
        { class: 'field' },
        h('label', { for: 'revealed-key' }, 'API key'),
        h('div', { class: 'copy-row' }, input, copy),
        status,
      ),
      h('p', { class: 'hint' }, 'Programs send it as ', h('code', {}, 'Authorization: Bearer <key>'), '.'),
    ],
    submitLabel: 'Done',
    cancelLabel: null,
    onClose: () => {
      input.value = '';
      created.key = null;
    },
  });
}

function renderKeys(container, query) {
  if (!ctx.projects.length) {
    container.append(
      pageHeader('API Keys', 'Keys let programs call the Shipstar API for one project.'),
      h(
        'section',
        { class: 'card' },
        empty({
          title: 'No projects yet',
          text: 'API keys belong to a project. Create a project on the Team page first.',
          action: h('a', { class: 'btn btn-primary', href: '#/team' }, 'Go to Team'),
        }),
      ),
    );
    return;
  }
  const project = currentProject(query.get('project'));
  const manage = canManage(projectRole(project.id));
  const { box: actionError, show: showActionError } = inlineAlert();
  const card = h('section', { class: 'card', 'aria-label': 'API keys' });

  const openCreate = () => {
    const name = field({
      label: 'Name',
      name: 'name',
      hint: 'Where the key is used, so you recognise it later.',
      attrs: {
        id: 'key-name',
        placeholder: 'Production Server',
        required: true,
        maxlength: '100',
        autocomplete: 'off',
      },
    });
    const expiry = selectField({
      label: 'Expires',
      name: 'expires_in_days',
      options: EXPIRY_CHOICES,
      value: '',
      attrs: { id: 'key-expiry' },
    });
    const days = field({
      label: 'Days until it expires',
      name: 'expires_in_days_custom',
      type: 'number',
      hint: '1 to 3650 days.',
      attrs: { id: 'key-expiry-days', min: '1', max: '3650', step: '1', inputmode: 'numeric' },
    });
    days.wrap.hidden = true;
    expiry.input.addEventListener('change', () => {
      days.wrap.hidden = expiry.input.value !== 'custom';
      days.input.required = !days.wrap.hidden;
    });
    openDialog({
      id: 'create-key-dialog',
      title: 'Create API Key',
      intro: `The key will work for project “${project.name}” and act as you.`,
      body: [name.wrap, expiry.wrap, days.wrap],
      submitLabel: 'Create API Key',
      onSubmit: async (_form, close) => {
        const body = { name: name.input.value.trim() };
        const choice = expiry.input.value;
        if (choice === 'custom') {
          body.expires_in_days = Number(days.input.value);
        } else if (choice) {
          body.expires_in_days = Number(choice);
        }
        const created = await api('POST', `/api/internal/projects/${encodeURIComponent(project.id)}/api-keys`, {
          json: body,
        });
        close();
        reveal(created, false);
        load();
      },
    });
  };

  const openRoll = (key) => {
    const choices = OVERLAP_CHOICES.map(([seconds, label]) => {
      const id = uid('overlap');
      return h(
        'div',
        { class: 'choice' },
        h('input', { type: 'radio', name: 'overlap_seconds', id, value: String(seconds), checked: seconds === 0 }),
        h('label', { for: id }, label),
      );
    });
    openDialog({
      id: 'roll-dialog',
      title: `Roll “${key.name}”`,
      intro:
        'A new key with the same name and expiry rule replaces this one. Put the new key in your programs before the old one stops working.',
      body: [h('fieldset', {}, h('legend', {}, 'The old key stops working'), choices)],
      submitLabel: 'Roll key',
      onSubmit: async (form, close) => {
        const overlap = Number(form.elements.namedItem('overlap_seconds').value);
        const created = await api('POST', keyPath(key, '/roll'), { json: { overlap_seconds: overlap } });
        close();
        reveal(created, true);
        load();
      },
    });
  };

  const openDelete = (key) => {
    confirmAction({
      title: `Delete “${key.name}”?`,
      message: 'Programs using this key stop working at once, and its usage history is deleted. This cannot be undone.',
      confirmLabel: 'Delete key',
      action: async () => {
        await api('DELETE', keyPath(key));
        toast(`Deleted “${key.name}”.`);
        load();
      },
    });
  };

  const toggle = (key, btn) =>
    withBusy(
      btn,
      (err) => showActionError(err, `Could not change “${key.name}”: `),
      async () => {
        await api('PATCH', keyPath(key), { json: { is_active: !key.is_active } });
        toast(key.is_active ? `Deactivated “${key.name}”.` : `Reactivated “${key.name}”.`);
        await load();
      },
    );

  const row = (key) => {
    const status = keyStatus(key);
    const actions = [
      h(
        'a',
        {
          class: 'btn btn-sm btn-ghost',
          href: `#/usage?project=${encodeURIComponent(project.id)}&key=${encodeURIComponent(key.id)}`,
          'aria-label': `Usage of ${key.name}`,
          'data-action': 'usage',
        },
        'Usage',
      ),
    ];
    if (manage) {
      const toggleBtn = button(key.is_active ? 'Deactivate' : 'Reactivate', {
        class: 'btn btn-sm',
        'data-action': key.is_active ? 'deactivate' : 'reactivate',
        'aria-label': `${key.is_active ? 'Deactivate' : 'Reactivate'} ${key.name}`,
        onclick: () => toggle(key, toggleBtn),
      });
      actions.push(toggleBtn);
      if (key.is_active) {
        actions.push(
          button('Roll', {
            class: 'btn btn-sm',
            'data-action': 'roll',
            'aria-label': `Roll ${key.name}`,
            onclick: () => openRoll(key),
          }),
        );
      }
      actions.push(
        button('Delete', {
          class: 'btn btn-sm btn-ghost btn-danger-text',
          'data-action': 'delete',
          'aria-label': `Delete ${key.name}`,
          onclick: () => openDelete(key),
        }),
      );
    }
    return h(
      'tr',
      { 'data-key-id': key.id },
      // The name opens the key detail (its activity, and why it is off), keeping the action
      // column as narrow as before.
      td(
        'Name',
        button(key.name, {
          class: 'link-button',
          'data-action': 'activity',
          'aria-label': `Activity of ${key.name}`,
          onclick: () => openKeyDetail(key),
        }),
        { class: 'cell-name' },
      ),
      td('Key', h('span', { class: 'key-prefix' }, `${key.key_prefix}…`)),
      td('Created', timeEl(key.created_at, formatDate(key.created_at)), { class: 'nowrap' }),
      td(
        'Last used',
        key.last_used_at
          ? timeEl(key.last_used_at, relativeTime(key.last_used_at))
          : h('span', { class: 'muted' }, 'Never'),
        { class: 'nowrap' },
      ),
      td(
        'Expires',
        key.expires_at ? timeEl(key.expires_at, formatDate(key.expires_at)) : h('span', { class: 'muted' }, 'Never'),
        { class: 'nowrap' },
      ),
      td('Status', [badge(status.label, status.kind), leakNote(key)], { 'data-status': status.code }),
      td('Actions', h('div', { class: 'actions' }, actions), { class: 'cell-actions' }),
    );
  };

  const draw = (keys) => {
    if (!keys.length) {
      card.replaceChildren(
        empty({
          icon: 'key',
          title: 'No API keys yet',
          text: manage
            ? 'Create a key to let a program call the Shipstar API for this project.'
            : 'A team owner or admin can create keys for this project.',
          action: manage ? button('Create API Key', { class: 'btn btn-primary', onclick: openCreate }) : null,
        }),
      );
      return;
    }
    card.replaceChildren(
      table(
        [
          'Name',
          'Key',
          'Created',
          'Last used',
          'Expires',
          'Status',
          { label: h('span', { class: 'sr-only' }, 'Actions') },
        ],
        keys.map(row),
        `API keys of ${project.name}`,
      ),
    );
    if (!manage) {
      card.append(
        h(
          'p',
          { class: 'card-footer muted small' },
          'You are a member of this team: you can see its keys, but only owners and admins can change them.',
        ),
      );
    }
  };

  async function load() {
    if (!card.firstChild) card.append(loading());
    try {
      const keys = await api('GET', `/api/internal/projects/${encodeURIComponent(project.id)}/api-keys`);
      draw(keys);
    } catch (err) {
      card.replaceChildren(errorBox(err));
    }
  }

  container.append(
    pageHeader(
      'API Keys',
      'Keys let programs call the Shipstar API for one project. Each key acts as the person who created it.',
      projectPicker(project, (id) => go('/keys', { project: id })),
      manage ? button('Create API Key', { class: 'btn btn-primary', id: 'create-key', onclick: openCreate }) : null,
    ),
    actionError,
    card,
  );
  load();
}
