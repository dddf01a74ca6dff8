// Account: profile, password change, and the person's live sessions with "sign out" per
// session and "sign out everywhere else".

/** "Chrome on Linux" from a User-Agent string; the full string is kept as a tooltip. */
function describeAgent(agent) {
  if (!agent) return 'Unknown device';
  const browsers = [
    [/Edg\//, 'Edge'],
    [/OPR\//, 'Opera'],
    [/Firefox\//, 'Firefox'],
    [/Chrom(e|ium)\//, 'Chrome'],
    [/Safari\//, 'Safari'],
    [/^curl\//, 'curl'],
    [/python-requests|Python-urllib|httpx/i, 'Python'],
  ];
  const systems = [
    [/Android/, 'Android'],
    [/iPhone|iPad|iOS/, 'iOS'],
    [/Windows/, 'Windows'],
    [/Mac OS X|Macintosh/, 'macOS'],
    [/CrOS/, 'ChromeOS'],
    [/Linux/, 'Linux'],
  ];
  const browser = browsers.find(([re]) => re.test(agent));
  const system = systems.find(([re]) => re.test(agent));
  if (!browser) return agent.length > 40 ? `${agent.slice(0, 40)}…` : agent;
  return system ? `${browser[1]} on ${system[1]}` : browser[1];
}

function profileCard() {
  const me = ctx.me;
  const first = field({
    label: 'First name',
    name: 'first_name',
    value: me.first_name || '',
    attrs: { id: 'profile-first', maxlength: '100', autocomplete: 'given-name' },
  });
  const last = field({
    label: 'Last name',
    name: 'last_name',
    value: me.last_name || '',
    attrs: { id: 'profile-last', maxlength: '100', autocomplete: 'family-name' },
  });
  const email = field({
    label: 'Email',
    name: 'email',
    type: 'email',
    value: me.email,
    attrs: { id: 'profile-email', required: true, autocomplete: 'email' },
  });
  const current = field({
    label: 'Current password',
    name: 'current_password',
    type: 'password',
    hint: 'Needed only to change your email.',
    attrs: { id: 'profile-current-password', autocomplete: 'current-password' },
  });
  const { form } = actionForm(
    { class: 'card-body stack' },
    [
      h('div', { class: 'form-grid' }, first.wrap, last.wrap, email.wrap, current.wrap),
      h('div', {}, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save profile')),
    ],
    async () => {
      const body = { first_name: first.input.value.trim() || null, last_name: last.input.value.trim() || null };
      const newEmail = email.input.value.trim();
      if (newEmail.toLowerCase() !== ctx.me.email) {
        if (!current.input.value) {
          throw new InputError('Enter your current password to change your email.', 'current_password');
        }
        body.email = newEmail;
        body.current_password = current.input.value;
      }
      ctx.me = await api('PATCH', '/api/internal/users/me', { json: body });
      current.input.value = '';
      email.input.value = ctx.me.email;
      const shown = document.getElementById('user-email');
      if (shown) shown.textContent = ctx.me.email;
      toast('Profile saved.');
    },
  );
  const flags = h(
    'div',
    { class: 'row card-footer' },
    ctx.me.is_superuser ? badge('Superuser', 'accent') : null,
    ctx.me.is_verified ? badge('Verified', 'success') : badge('Not verified', 'warning'),
    h('span', { class: 'muted small' }, `Account created ${formatDateTime(ctx.me.created_at)}`),
  );
  return card('Profile', null, form, flags);
}

function passwordCard(onChanged) {
  const current = field({
    label: 'Current password',
    name: 'current_password',
    type: 'password',
    attrs: { id: 'password-current', required: true, autocomplete: 'current-password' },
  });
  const next = field({
    label: 'New password',
    name: 'password',
    type: 'password',
    hint: '8 to 1024 characters.',
    attrs: { id: 'password-new', required: true, minlength: '8', maxlength: '1024', autocomplete: 'new-password' },
  });
  const again = field({
    label: 'Repeat the new password',
    name: 'password_repeat',
    type: 'password',
    attrs: { id: 'password-repeat', required: true, autocomplete: 'new-password' },
  });
  const { form } = actionForm(
    { class: 'card-body stack' },
    [
      h('div', { class: 'form-grid' }, h('div', { class: 'span-2' }, current.wrap), next.wrap, again.wrap),
      h('div', {}, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Change password')),
    ],
    async () => {
      if (next.input.value !== again.input.value) {
        throw new InputError('The two new passwords do not match.', 'password_repeat');
      }
      await api('PATCH', '/api/internal/users/me', {
        json: { password: next.input.value, current_password: current.input.value },
      });
      for (const input of [current.input, next.input, again.input]) input.value = '';
      toast('Password changed. Every other session was signed out.');
      onChanged();
    },
  );
  return card('Password', 'Changing it signs out every other session.', form);
}

function sessionsCard() {
  const body = h('div', {}, loading());
  const { box: problem, show: showProblem } = inlineAlert('card-alert');
  const revokeOthers = button('Sign out everywhere else', {
    class: 'btn',
    id: 'revoke-others',
    onclick: () =>
      confirmAction({
        title: 'Sign out everywhere else?',
        message: 'Every other session of your account ends at once. This one stays signed in.',
        confirmLabel: 'Sign out other sessions',
        action: async () => {
          await api('POST', '/api/internal/auth/sessions/revoke-all', { json: {} });
          toast('Signed out every other session.');
          load();
        },
      }),
  });

  const row = (session) => {
    const end = session.current
      ? button('Sign out', {
          class: 'btn btn-sm',
          'aria-label': 'Sign out this session',
          onclick: () => signOut(),
        })
      : button('Sign out', {
          class: 'btn btn-sm',
          'aria-label': `Sign out ${describeAgent(session.user_agent)} from ${session.ip || 'an unknown address'}`,
          onclick: (event) =>
            withBusy(event.currentTarget, showProblem, async () => {
              await api('DELETE', `/api/internal/auth/sessions/${encodeURIComponent(session.id)}`);
              toast('Session signed out.');
              load();
            }),
        });
    return h(
      'tr',
      { 'data-session-id': session.id },
      td(
        'Device',
        h(
          'span',
          { title: session.user_agent || '' },
          describeAgent(session.user_agent),
          session.current ? [' ', badge('This session', 'accent')] : null,
        ),
        { class: 'cell-name' },
      ),
      td('IP address', h('span', { class: 'mono' }, session.ip || '—')),
      td('Signed in', timeEl(session.created_at, formatDateTime(session.created_at)), { class: 'nowrap' }),
      td('Last active', timeEl(session.last_seen_at, relativeTime(session.last_seen_at)), { class: 'nowrap' }),
      td('Actions', h('div', { class: 'actions' }, end), { class: 'cell-actions' }),
    );
  };

  async function load() {
    try {
      const sessions = await api('GET', '/api/internal/auth/sessions');
      sessions.sort(
        (a, b) => (b.current ? 1 : 0) - (a.current ? 1 : 0) || Date.parse(b.last_seen_at) - Date.parse(a.last_seen_at),
      );
      revokeOthers.disabled = sessions.every((s) => s.current);
      body.replaceChildren(
        table(
          ['Device', 'IP address', 'Signed in', 'Last active', { label: h('span', { class: 'sr-only' }, 'Actions') }],
          sessions.map(row),
          'Your sessions',
        ),
      );
    } catch (err) {
      body.replaceChildren(errorBox(err));
    }
  }
  load();
  const element = card(
    'Sessions',
    'Every place your account is signed in.',
    problem,
    body,
    h('div', { class: 'card-footer row row-end' }, revokeOthers),
  );
  return { card: element, reload: load };
}

function renderAccount(container) {
  const sessions = sessionsCard();
  container.append(
    pageHeader('Account', ctx.me.email),
    profileCard(),
    passwordCard(() => sessions.reload()),
    sessions.card,
  );
}
