// Team: members and their roles, adding a member by email, the team's projects, creating a
// team; for superusers also the server's user accounts.

const ROLE_TEXT = {
  owner: 'Owner',
  admin: 'Admin',
  member: 'Member',
};

function roleOptions(callerIsOwner) {
  const options = [
    ['member', 'Member'],
    ['admin', 'Admin'],
  ];
  if (callerIsOwner) options.push(['owner', 'Owner']);
  return options;
}

function membersCard(team, role) {
  const manage = canManage(role);
  const isOwner = role === 'owner';
  const body = h('div', {}, loading());
  const { box: problem, show: showProblem } = inlineAlert('card-alert');
  const membersPath = `/api/internal/teams/${encodeURIComponent(team.id)}/members`;

  const row = (member) => {
    const you = ctx.me && member.user_id === ctx.me.id;
    const mayChange = manage && (member.role !== 'owner' || isOwner);
    let roleCell;
    if (mayChange) {
      roleCell = confirmSelect({
        id: uid('member-role'),
        label: `Role of ${member.email}`,
        labelHidden: true,
        name: 'role',
        options: roleOptions(isOwner || member.role === 'owner').map(([v, t]) => h('option', { value: v }, t)),
        value: member.role,
        applyLabel: 'Save',
        applyAttrs: { 'aria-label': `Save the role of ${member.email}`, 'data-member-role-save': member.user_id },
        onApply: async (newRole) => {
          showProblem('');
          try {
            await api('PATCH', `${membersPath}/${encodeURIComponent(member.user_id)}`, { json: { role: newRole } });
            toast(`${member.email} is now ${ROLE_TEXT[newRole].toLowerCase()}.`);
            member.role = newRole;
            if (you) await reloadTeamsAndProjects();
            return true;
          } catch (err) {
            showProblem(`Could not change the role of ${member.email}: ${describe(err)}`);
            return false;
          }
        },
      });
      roleCell.select.setAttribute('data-member-role', member.user_id);
      roleCell = roleCell.wrap;
    } else {
      roleCell = badge(ROLE_TEXT[member.role] || member.role, member.role === 'owner' ? 'accent' : '');
    }
    const remove = mayChange
      ? button(you ? 'Leave' : 'Remove', {
          class: 'btn btn-sm btn-ghost btn-danger-text',
          'aria-label': you ? `Leave ${team.name}` : `Remove ${member.email}`,
          onclick: () =>
            confirmAction({
              title: you ? `Leave ${team.name}?` : `Remove ${member.email}?`,
              message: you
                ? 'You lose access to its projects, and the API keys you created for them stop working.'
                : 'They lose access to this team’s projects at once, and the API keys they created for them stop working.',
              confirmLabel: you ? 'Leave team' : 'Remove member',
              action: async () => {
                await api('DELETE', `${membersPath}/${encodeURIComponent(member.user_id)}`);
                toast(you ? `You left ${team.name}.` : `Removed ${member.email}.`);
                if (you) {
                  await reloadTeamsAndProjects();
                  go('/team');
                } else {
                  load();
                }
              },
            }),
        })
      : null;
    return h(
      'tr',
      { 'data-user-id': member.user_id },
      td('Email', h('span', {}, member.email, you ? h('span', { class: 'muted' }, ' (you)') : null), {
        class: 'cell-name',
      }),
      td('Role', roleCell),
      td('Added', timeEl(member.added_at, formatDate(member.added_at)), { class: 'nowrap' }),
      td('Actions', remove ? h('div', { class: 'actions' }, remove) : null, { class: 'cell-actions' }),
    );
  };

  async function load() {
    try {
      const members = await api('GET', membersPath);
      body.replaceChildren(
        table(
          ['Email', 'Role', 'Added', { label: h('span', { class: 'sr-only' }, 'Actions') }],
          members.map(row),
          `Members of ${team.name}`,
        ),
      );
    } catch (err) {
      body.replaceChildren(errorBox(err));
    }
  }

  let addForm = null;
  if (manage) {
    const email = field({
      label: 'Email',
      name: 'email',
      type: 'email',
      attrs: { id: 'member-email', required: true, autocomplete: 'off' },
    });
    const newRole = selectField({
      label: 'Role',
      name: 'role',
      options: roleOptions(false),
      value: 'member',
      attrs: { id: 'member-role' },
    });
    newRole.wrap.classList.add('field-narrow');
    addForm = actionForm(
      { class: 'card-footer stack' },
      h(
        'div',
        { class: 'inline-form' },
        email.wrap,
        newRole.wrap,
        h('button', { type: 'submit', class: 'btn btn-primary' }, 'Add member'),
      ),
      async () => {
        try {
          await api('POST', membersPath, { json: { email: email.input.value.trim(), role: newRole.input.value } });
        } catch (err) {
          if (err.status === 404) {
            throw new ApiError(
              404,
              ctx.me.is_superuser
                ? 'No account has this email. Create it under Users below, then add it here.'
                : 'No account has this email. Ask a server administrator to create it first.',
              null,
            );
          }
          throw err;
        }
        toast(`Added ${email.input.value.trim()}.`);
        email.input.value = '';
        load();
      },
    ).form;
  }

  load();
  return card(
    'Members',
    'Owners and admins manage keys, projects and members; members see keys and usage and write content.',
    problem,
    body,
    addForm,
  );
}

function projectsCard(team, role) {
  const manage = canManage(role);
  const body = h('div', {});
  const draw = () => {
    const projects = ctx.projects.filter((p) => p.team_id === team.id);
    body.replaceChildren(
      projects.length
        ? table(
            ['Name', 'Slug', 'Created', { label: h('span', { class: 'sr-only' }, 'Links') }],
            projects.map((p) =>
              h(
                'tr',
                { 'data-project-id': p.id },
                td('Name', p.name, { class: 'cell-name' }),
                td('Slug', h('span', { class: 'mono' }, p.slug)),
                td('Created', timeEl(p.created_at, formatDate(p.created_at)), { class: 'nowrap' }),
                td(
                  'Links',
                  h(
                    'div',
                    { class: 'actions' },
                    h(
                      'a',
                      { class: 'btn btn-sm btn-ghost', href: `#/keys?project=${encodeURIComponent(p.id)}` },
                      'API Keys',
                    ),
                    h(
                      'a',
                      { class: 'btn btn-sm btn-ghost', href: `#/content?project=${encodeURIComponent(p.id)}` },
                      'Content',
                    ),
                  ),
                  { class: 'cell-actions' },
                ),
              ),
            ),
            `Projects of ${team.name}`,
          )
        : empty({
            title: 'No projects yet',
            text: manage ? 'Create the first project of this team below.' : 'An owner or admin can create projects.',
          }),
    );
  };
  draw();
  let form = null;
  if (manage) {
    const name = field({
      label: 'Project name',
      name: 'name',
      attrs: { id: 'project-name', required: true, maxlength: '100', autocomplete: 'off' },
    });
    const slug = field({
      label: 'Slug (optional)',
      name: 'slug',
      attrs: {
        id: 'project-slug',
        pattern: '[a-z0-9]+(-[a-z0-9]+)*',
        maxlength: '200',
        autocomplete: 'off',
        placeholder: 'derived from the name',
      },
    });
    form = actionForm(
      { class: 'card-footer stack' },
      h(
        'div',
        { class: 'inline-form' },
        name.wrap,
        slug.wrap,
        h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create project'),
      ),
      async () => {
        const body = { name: name.input.value.trim() };
        if (slug.input.value.trim()) body.slug = slug.input.value.trim();
        const created = await api('POST', `/api/internal/teams/${encodeURIComponent(team.id)}/projects`, {
          json: body,
        });
        await reloadTeamsAndProjects();
        toast(`Created project ${created.name}.`);
        name.input.value = '';
        slug.input.value = '';
        draw();
      },
    ).form;
  }
  return card('Projects', 'Each project has its own API keys and content.', body, form);
}

function newTeamCard() {
  const name = field({
    label: 'Team name',
    name: 'name',
    attrs: { id: 'team-name', required: true, maxlength: '100', autocomplete: 'off' },
  });
  const { form } = actionForm(
    { class: 'card-body stack' },
    h('div', { class: 'inline-form' }, name.wrap, h('button', { type: 'submit', class: 'btn' }, 'Create team')),
    async () => {
      const team = await api('POST', '/api/internal/teams', { json: { name: name.input.value.trim() } });
      await reloadTeamsAndProjects();
      toast(`Created team ${team.name}. You are its owner.`);
      go('/team', { team: team.id });
    },
  );
  return card('Create a team', 'You become the owner of the new team.', form);
}

function usersCard() {
  const body = h('div', {}, loading());
  const { box: problem, show: showProblem } = inlineAlert('card-alert');
  const row = (user) => {
    const you = user.id === ctx.me.id;
    const toggle = you
      ? null
      : button(user.is_active ? 'Deactivate' : 'Activate', {
          class: 'btn btn-sm',
          'aria-label': `${user.is_active ? 'Deactivate' : 'Activate'} ${user.email}`,
          onclick: (event) =>
            withBusy(event.currentTarget, showProblem, async () => {
              await api('PATCH', `/api/internal/users/${encodeURIComponent(user.id)}`, {
                json: { is_active: !user.is_active },
              });
              toast(
                user.is_active
                  ? `Deactivated ${user.email}: their sessions and keys stopped working.`
                  : `Activated ${user.email}.`,
              );
              load();
            }),
        });
    const name = [user.first_name, user.last_name].filter(Boolean).join(' ');
    return h(
      'tr',
      {},
      td('Email', h('span', {}, user.email, you ? h('span', { class: 'muted' }, ' (you)') : null), {
        class: 'cell-name',
      }),
      td('Name', name || h('span', { class: 'muted' }, '—')),
      td(
        'Status',
        h(
          'div',
          { class: 'row' },
          user.is_active ? badge('Active', 'success') : badge('Inactive'),
          user.is_superuser ? badge('Superuser', 'accent') : null,
        ),
      ),
      td('Created', timeEl(user.created_at, formatDate(user.created_at)), { class: 'nowrap' }),
      td('Actions', toggle ? h('div', { class: 'actions' }, toggle) : null, { class: 'cell-actions' }),
    );
  };
  async function load() {
    try {
      const users = await api('GET', '/api/internal/users');
      body.replaceChildren(
        table(
          ['Email', 'Name', 'Status', 'Created', { label: h('span', { class: 'sr-only' }, 'Actions') }],
          users.map(row),
          'Users',
        ),
      );
    } catch (err) {
      body.replaceChildren(errorBox(err));
    }
  }
  const email = field({
    label: 'Email',
    name: 'email',
    type: 'email',
    attrs: { id: 'new-user-email', required: true, autocomplete: 'off' },
  });
  const password = field({
    label: 'Initial password',
    name: 'password',
    type: 'password',
    hint: '8 to 1024 characters. Share it safely; they can change it under Account.',
    attrs: { id: 'new-user-password', required: true, minlength: '8', maxlength: '1024', autocomplete: 'new-password' },
  });
  const superId = uid('new-user-superuser');
  const superuser = h('input', { type: 'checkbox', id: superId, name: 'is_superuser' });
  const { form } = actionForm(
    { class: 'card-footer stack' },
    [
      h('div', { class: 'form-grid' }, email.wrap, password.wrap),
      h(
        'div',
        { class: 'choice' },
        superuser,
        h('label', { for: superId }, 'Superuser (may manage every team and user)'),
      ),
      h('div', {}, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create user')),
    ],
    async () => {
      const created = await api('POST', '/api/internal/users', {
        json: {
          email: email.input.value.trim(),
          password: password.input.value,
          is_superuser: superuser.checked,
          is_verified: true,
        },
      });
      toast(`Created ${created.email}. Add them to a team under Members.`);
      email.input.value = '';
      password.input.value = '';
      superuser.checked = false;
      load();
    },
  );
  load();
  return card('Users', 'Every account on this server (visible to superusers only).', problem, body, form);
}

function renderTeam(container, query) {
  const team = currentTeam(query.get('team'));
  const pickers = ctx.teams.length > 1 ? [teamPicker(team, (id) => go('/team', { team: id }))] : [];
  container.append(
    pageHeader(
      'Team',
      team ? `${team.name} · you are ${(ROLE_TEXT[teamRole(team.id)] || '').toLowerCase()}` : null,
      ...pickers,
    ),
  );
  if (!team) {
    container.append(
      h(
        'section',
        { class: 'card' },
        empty({
          icon: 'people',
          title: 'You are not in a team yet',
          text: 'Create a team to hold projects, or ask a team owner to add you.',
        }),
      ),
      newTeamCard(),
    );
  } else {
    const role = teamRole(team.id);
    container.append(membersCard(team, role), projectsCard(team, role), newTeamCard());
  }
  if (ctx.me.is_superuser) container.append(usersCard());
}
