// Content: the drafts and published items of one project, filtered by type and status, with
// publish, unpublish and delete. Creating and editing happen in the editor view.

const PAGE_SIZE = 20;

function period(item) {
  if (!item.from_date && !item.to_date) return h('span', { class: 'muted' }, '—');
  const from = item.from_date ? formatDate(item.from_date) : '…';
  const to = item.to_date ? formatDate(item.to_date) : '…';
  return `${from} – ${to}`;
}

function renderContentList(container, query) {
  if (!ctx.projects.length) {
    container.append(
      pageHeader('Content', null),
      h(
        'section',
        { class: 'card' },
        empty({ title: 'No projects yet', text: 'Content belongs to a project. Create one on the Team page.' }),
      ),
    );
    return;
  }
  const project = currentProject(query.get('project'));
  const type = TYPES[query.get('type')] ? query.get('type') : '';
  const status = ['draft', 'published'].includes(query.get('status')) ? query.get('status') : '';
  const page = Math.max(0, Number.parseInt(query.get('page') || '0', 10) || 0);
  const state = { project: project.id, type, status };
  const newLink = (kind, label, primary) =>
    h(
      'a',
      {
        class: primary ? 'btn btn-primary' : 'btn',
        href: `#/content/new/${kind}?project=${encodeURIComponent(project.id)}`,
        id: `new-${kind}`,
      },
      label,
    );

  const typeFilter = selectField({
    label: 'Type',
    name: 'type',
    value: type,
    options: [['', 'All types'], ...Object.entries(TYPES).map(([k, v]) => [k, v.label])],
    attrs: { id: 'content-type-filter', onchange: (e) => go('/content', { ...state, type: e.target.value }) },
  });
  const statusFilter = selectField({
    label: 'Status',
    name: 'status',
    value: status,
    options: [
      ['', 'Drafts and published'],
      ['draft', 'Drafts'],
      ['published', 'Published'],
    ],
    attrs: { id: 'content-status-filter', onchange: (e) => go('/content', { ...state, status: e.target.value }) },
  });
  const body = h('div', {}, loading());

  container.append(
    pageHeader(
      'Content',
      'Changelogs, blog posts and knowledge-base articles. Drafts stay private until you publish them.',
      projectPicker(project, (id) => go('/content', { project: id })),
      h(
        'div',
        { class: 'row' },
        newLink('changelog', 'New changelog', true),
        newLink('blog', 'New blog post'),
        newLink('kb', 'New KB set'),
      ),
    ),
    h(
      'section',
      { class: 'card', 'aria-label': 'Content' },
      h('div', { class: 'filters' }, typeFilter.wrap, statusFilter.wrap),
      body,
    ),
  );

  const reload = () => load();
  const row = (item) => {
    const url = publicUrl(item);
    const actions = [
      h(
        'a',
        {
          class: 'btn btn-sm',
          href: `#/content/${encodeURIComponent(item.id)}`,
          'aria-label': `Edit ${item.title}`,
          'data-action': 'edit',
        },
        'Edit',
      ),
      item.is_published
        ? button('Unpublish', {
            class: 'btn btn-sm',
            'data-action': 'unpublish',
            'aria-label': `Unpublish ${item.title}`,
            onclick: () => openUnpublish(item, reload),
          })
        : button('Publish', {
            class: 'btn btn-sm',
            'data-action': 'publish',
            'aria-label': `Publish ${item.title}`,
            onclick: () => openPublish(item, reload),
          }),
      button('Delete', {
        class: 'btn btn-sm btn-ghost btn-danger-text',
        'data-action': 'delete',
        'aria-label': `Delete ${item.title}`,
        onclick: () => openDeleteContent(item, reload),
      }),
    ];
    return h(
      'tr',
      { 'data-content-id': item.id },
      td('Title', h('a', { href: `#/content/${encodeURIComponent(item.id)}` }, item.title), { class: 'cell-name' }),
      td('Type', TYPES[item.type] ? TYPES[item.type].label : item.type),
      td(
        'Status',
        h(
          'div',
          { class: 'row' },
          statusBadge(item),
          url ? h('a', { href: url, class: 'small mono' }, item.public_slug) : null,
        ),
        { 'data-status': item.is_published ? 'published' : 'draft' },
      ),
      td('Period', period(item), { class: 'nowrap' }),
      td('Updated', timeEl(item.updated_at, relativeTime(item.updated_at)), { class: 'nowrap' }),
      td('Actions', h('div', { class: 'actions' }, actions), { class: 'cell-actions' }),
    );
  };

  async function load() {
    const params = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String(page * PAGE_SIZE) });
    if (type) params.set('type', type);
    if (status) params.set('published', status === 'published' ? 'true' : 'false');
    try {
      const { items, total } = await api(
        'GET',
        `/api/internal/projects/${encodeURIComponent(project.id)}/content?${params}`,
        { withTotal: true },
      );
      if (!items.length && page === 0) {
        body.replaceChildren(
          empty({
            icon: 'document',
            title: type || status ? 'Nothing matches these filters' : 'No content yet',
            text:
              type || status
                ? 'Change the filters to see other items.'
                : 'Write a changelog, a blog post or a set of KB articles for this project. It stays a draft until you publish it.',
            action: type || status ? null : newLink('changelog', 'New changelog', true),
          }),
        );
        return;
      }
      const last = Math.min(total, page * PAGE_SIZE + items.length);
      const pager = h(
        'div',
        { class: 'pager card-footer' },
        h('span', {}, `${page * PAGE_SIZE + (items.length ? 1 : 0)}–${last} of ${total}`),
        h(
          'div',
          { class: 'row' },
          button('Previous', {
            class: 'btn btn-sm',
            disabled: page === 0,
            onclick: () => go('/content', { ...state, page: page - 1 }),
          }),
          button('Next', {
            class: 'btn btn-sm',
            disabled: last >= total,
            onclick: () => go('/content', { ...state, page: page + 1 }),
          }),
        ),
      );
      body.replaceChildren(
        table(
          ['Title', 'Type', 'Status', 'Period', 'Updated', { label: h('span', { class: 'sr-only' }, 'Actions') }],
          items.map(row),
          `Content of ${project.name}`,
        ),
        pager,
      );
    } catch (err) {
      body.replaceChildren(errorBox(err));
    }
  }
  load();
}
