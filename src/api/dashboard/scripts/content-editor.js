// The content editor (create and edit) and the publish / unpublish / delete actions the list
// page shares.
//
// A changelog is edited as a small form (entries with category, title and description) and
// saved as the JSON text the API stores: {"title", "entries": [{"category", "title",
// "description"}]}. A KB set is a list of articles saved as {"articles": [{"category",
// "title", "body"}]}. A blog post is Markdown in a textarea.

const TYPES = {
  changelog: { label: 'Changelog', noun: 'changelog', period: true, publicPath: 'changelog' },
  blog: { label: 'Blog post', noun: 'blog post', period: true, publicPath: 'blog' },
  kb: { label: 'KB articles', noun: 'KB article set', period: false, publicPath: 'kb' },
};

const CATEGORIES = ['Added', 'Improved', 'Changed', 'Fixed', 'Deprecated', 'Removed', 'Security'];

/** Longest slug the server derives from a title (`MAX_SLUG_CHARS` in the server's slug rule). */
const DERIVED_SLUG_CHARS = 100;

/**
 * The slug the server derives from a title when none is given, by the server's own rule:
 * ASCII letters and digits lower-cased, any other run of characters one dash (accented
 * letters included: the server does not transliterate), at most 100 characters, and the
 * content type when nothing is left. The browser test publishes odd titles and checks that
 * this preview is what the server chose. (When that slug is taken, the server adds -2, -3.)
 */
function slugify(text, fallback) {
  let slug = '';
  for (const c of text) {
    if (/^[A-Za-z0-9]$/.test(c)) {
      slug += c.toLowerCase();
    } else if (slug && !slug.endsWith('-')) {
      slug += '-';
    }
  }
  slug = slug.slice(0, DERIVED_SLUG_CHARS).replace(/-+$/, '');
  return slug || fallback;
}

function contentPath(item, suffix = '') {
  return `/api/internal/content/${encodeURIComponent(item.id)}${suffix}`;
}

/** The public address of a published item. */
function publicUrl(item) {
  const info = TYPES[item.type];
  return info && item.public_slug ? `/api/v1/${info.publicPath}/${encodeURIComponent(item.public_slug)}` : null;
}

function statusBadge(item) {
  return item.is_published ? badge('Published', 'success') : badge('Draft');
}

/** Asks for a slug and publishes; `onDone(updated)` after success. */
function openPublish(item, onDone) {
  const info = TYPES[item.type] || TYPES.changelog;
  const slug = field({
    label: 'Slug',
    name: 'slug',
    value: item.public_slug || '',
    hint: `Lowercase letters, digits and single dashes. Leave it empty to derive it from the title. Public address: /api/v1/${info.publicPath}/<slug>`,
    attrs: {
      id: 'publish-slug',
      placeholder: slugify(item.title, item.type),
      pattern: '[a-z0-9]+(-[a-z0-9]+)*',
      maxlength: '200',
      autocomplete: 'off',
      spellcheck: 'false',
      autocapitalize: 'none',
    },
  });
  openDialog({
    id: 'publish-dialog',
    title: `Publish “${item.title}”`,
    intro: 'Published items appear at once in the public API and its feeds.',
    body: [slug.wrap],
    submitLabel: 'Publish',
    onSubmit: async (_form, close) => {
      const value = slug.input.value.trim();
      const updated = await api('POST', contentPath(item, '/publish'), { json: value ? { slug: value } : {} });
      close();
      toast(`Published “${updated.title}” as ${updated.public_slug}.`);
      onDone(updated);
    },
  });
}

function openUnpublish(item, onDone) {
  confirmAction({
    title: `Unpublish “${item.title}”?`,
    message: 'It leaves the public API and feeds at once. You can publish it again later.',
    confirmLabel: 'Unpublish',
    danger: false,
    action: async () => {
      const updated = await api('POST', contentPath(item, '/unpublish'), { json: {} });
      toast(`Unpublished “${item.title}”.`);
      onDone(updated);
    },
  });
}

function openDeleteContent(item, onDone) {
  confirmAction({
    title: `Delete “${item.title}”?`,
    message: item.is_published
      ? 'It is published: it disappears from the public API and feeds at once. This cannot be undone.'
      : 'This draft is deleted for good. This cannot be undone.',
    confirmLabel: 'Delete',
    action: async () => {
      await api('DELETE', contentPath(item));
      toast(`Deleted “${item.title}”.`);
      onDone();
    },
  });
}

/**
 * A list of repeated groups (changelog entries, KB articles), each with a Remove button, and
 * an Add button. `read()` returns the groups as objects, skipping groups left entirely empty.
 */
function repeater({ legend, itemLabel, fields, items, onChange }) {
  const list = h('div', { class: 'entry-list' });
  const prefix = itemLabel.toLowerCase();
  // Names follow the position, so an error can point at the control it is about.
  const renumber = () => {
    [...list.children].forEach((box, i) => {
      box.querySelector('h3').textContent = `${itemLabel} ${i + 1}`;
      box.querySelector('[data-remove]').setAttribute('aria-label', `Remove ${prefix} ${i + 1}`);
      for (const control of box.querySelectorAll('[data-key]')) {
        control.name = `${prefix}-${i + 1}-${control.dataset.key}`;
      }
    });
  };
  const add = (values = {}, focus = false) => {
    const box = h('div', { class: 'entry', 'data-entry': '' });
    const remove = button('Remove', {
      class: 'btn btn-sm btn-ghost btn-danger-text',
      'data-remove': '',
      onclick: () => {
        box.remove();
        renumber();
        onChange();
      },
    });
    box.append(h('div', { class: 'entry-head' }, h('h3', {}, itemLabel), remove));
    for (const f of fields) {
      const id = uid(`${itemLabel.toLowerCase()}-${f.key}`);
      const attrs = { id, 'data-key': f.key, maxlength: f.max ? String(f.max) : null };
      let control;
      if (f.textarea) {
        control = h('textarea', { ...attrs, rows: String(f.rows || 3) });
        control.value = values[f.key] || '';
      } else {
        control = h('input', { ...attrs, type: 'text', list: f.list || null, value: values[f.key] || '' });
      }
      box.append(
        h('div', { class: `field ${f.wide ? 'span-2' : ''}`.trim() }, h('label', { for: id }, f.label), control),
      );
    }
    list.append(box);
    renumber();
    if (focus) box.querySelector('[data-key]').focus();
  };
  for (const item of items) add(item);
  if (!items.length) add();
  const addButton = button(`Add ${itemLabel.toLowerCase()}`, {
    class: 'btn btn-sm',
    onclick: () => {
      add({}, true);
      onChange();
    },
  });
  const el = h('fieldset', {}, h('legend', {}, legend), h('div', { class: 'stack' }, list, h('div', {}, addButton)));
  // Groups left entirely empty are dropped; in the others, the required fields must be set.
  const read = () => {
    const out = [];
    [...list.children].forEach((box, i) => {
      const values = {};
      for (const control of box.querySelectorAll('[data-key]')) {
        values[control.dataset.key] = control.value.trim();
      }
      if (!Object.values(values).some((v) => v !== '')) return;
      for (const f of fields.filter((f) => f.required)) {
        if (values[f.key] === '') {
          throw new InputError(
            `${itemLabel} ${i + 1} needs a ${f.label.toLowerCase()}.`,
            `${prefix}-${i + 1}-${f.key}`,
          );
        }
      }
      out.push(values);
    });
    return out;
  };
  return { el, read };
}

function parseJson(text) {
  try {
    const value = JSON.parse(text);
    return value && typeof value === 'object' ? value : null;
  } catch {
    return null;
  }
}

/** The body part of the form for one type: {el, serialise(title)}. */
function bodyEditor(type, item, onChange) {
  const existing = item ? item.content : '';
  if (type === 'blog') {
    const text = textareaField({
      label: 'Post (Markdown)',
      name: 'content',
      value: existing,
      hint: 'Markdown: # headings, **bold**, [links](url), lists.',
      attrs: { id: 'content-body', rows: '18', class: 'mono', required: true },
    });
    return { el: text.wrap, serialise: () => text.input.value };
  }
  const parsed = item ? parseJson(existing) : {};
  const listKey = type === 'kb' ? 'articles' : 'entries';
  if (item && (!parsed || !Array.isArray(parsed[listKey]))) {
    // Stored by another client in a shape this form does not know: edit the text itself.
    const raw = textareaField({
      label: 'Content (JSON)',
      name: 'content',
      value: existing,
      attrs: { id: 'content-body', rows: '16', class: 'mono', required: true },
    });
    return {
      el: h(
        'div',
        { class: 'stack' },
        h('div', { class: 'alert alert-warning' }, 'This content is not in the usual shape, so it is shown as text.'),
        raw.wrap,
      ),
      serialise: () => raw.input.value,
    };
  }
  const items = parsed && Array.isArray(parsed[listKey]) ? parsed[listKey] : [];
  if (type === 'kb') {
    const articles = repeater({
      legend: 'Articles',
      itemLabel: 'Article',
      items,
      onChange,
      fields: [
        { key: 'category', label: 'Category', required: true, max: 100 },
        { key: 'title', label: 'Title', required: true, max: 300 },
        { key: 'body', label: 'Body (Markdown)', textarea: true, rows: 6, wide: true },
      ],
    });
    return { el: articles.el, serialise: () => JSON.stringify({ articles: articles.read() }) };
  }
  const entries = repeater({
    legend: 'Entries',
    itemLabel: 'Entry',
    items,
    onChange,
    fields: [
      { key: 'category', label: 'Category', list: 'changelog-categories', required: true, max: 100 },
      { key: 'title', label: 'Title', required: true, max: 300 },
      { key: 'description', label: 'Description', textarea: true, rows: 3, wide: true, max: 10000 },
    ],
  });
  const datalist = h(
    'datalist',
    { id: 'changelog-categories' },
    CATEGORIES.map((c) => h('option', { value: c })),
  );
  return {
    el: h('div', {}, entries.el, datalist),
    serialise: (title) => JSON.stringify({ title, entries: entries.read() }),
  };
}

function dateInputValue(iso) {
  return typeof iso === 'string' && iso.length >= 10 ? iso.slice(0, 10) : '';
}

function editorView(container, { item, type, project }) {
  const info = TYPES[type];
  let current = item;
  let dirty = false;
  const markDirty = () => {
    dirty = true;
  };

  const title = field({
    label: 'Title',
    name: 'title',
    value: item ? item.title : '',
    attrs: { id: 'content-title', required: true, maxlength: '200', autocomplete: 'off' },
  });
  const from = field({
    label: 'Period from',
    name: 'period_start',
    type: 'date',
    value: item ? dateInputValue(item.from_date) : '',
    attrs: { id: 'content-from' },
  });
  const to = field({
    label: 'Period to',
    name: 'period_end',
    type: 'date',
    value: item ? dateInputValue(item.to_date) : '',
    attrs: { id: 'content-to' },
  });
  const body = bodyEditor(type, item, markDirty);

  const statusLine = h('div', { class: 'status-line', role: 'status' });
  const actions = h('div', { class: 'row' });

  const drawStatus = () => {
    if (!current) {
      statusLine.replaceChildren(badge('New draft'), 'Not saved yet.');
      return;
    }
    const parts = [statusBadge(current)];
    if (current.is_published && current.published_at) {
      const url = publicUrl(current);
      parts.push(
        'Published ',
        timeEl(current.published_at, formatDate(current.published_at)),
        ' at ',
        url ? h('a', { href: url, id: 'content-public-link' }, url) : h('code', {}, current.public_slug || ''),
      );
    } else {
      parts.push('Only your team can see it.');
    }
    parts.push(h('span', { class: 'spacer' }), 'Saved ', timeEl(current.updated_at, relativeTime(current.updated_at)));
    statusLine.replaceChildren(...parts);
  };

  // Dates are whole UTC days: the period runs from the start of the first to the end of the
  // last. An emptied date is sent as null on an edit, so it is cleared.
  const payload = () => {
    const out = { title: title.input.value.trim(), content: body.serialise(title.input.value.trim()) };
    if (info.period) {
      const start = from.input.value ? `${from.input.value}T00:00:00Z` : null;
      const end = to.input.value ? `${to.input.value}T23:59:59Z` : null;
      if (start || current) out.period_start = start;
      if (end || current) out.period_end = end;
    }
    return out;
  };

  const save = async () => {
    if (!current) {
      const created = await api('POST', `/api/internal/projects/${encodeURIComponent(project.id)}/content`, {
        json: { type, ...payload() },
      });
      dirty = false;
      toast('Draft saved.');
      go(`/content/${created.id}`);
      return null;
    }
    current = await api('PATCH', `/api/internal/content/${encodeURIComponent(current.id)}`, { json: payload() });
    dirty = false;
    drawStatus();
    drawActions();
    return current;
  };

  const { box: errorArea } = inlineAlert();
  const form = h(
    'form',
    { class: 'card', id: 'content-form', novalidate: false },
    h(
      'div',
      { class: 'card-body stack' },
      errorArea,
      title.wrap,
      info.period ? h('div', { class: 'form-grid' }, from.wrap, to.wrap) : null,
      body.el,
    ),
    h('div', { class: 'card-footer' }, actions),
  );
  form.addEventListener('input', markDirty);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    await withBusy(
      form.querySelector('#content-save'),
      (err) => showFormError(form, errorArea, err),
      async () => {
        if (await save()) toast('Saved.');
      },
    );
  });

  const afterChange = (updated) => {
    current = updated;
    drawStatus();
    drawActions();
  };

  function drawActions() {
    const list = [
      h('button', { type: 'submit', class: 'btn btn-primary', id: 'content-save' }, current ? 'Save' : 'Save draft'),
    ];
    if (current && !current.is_published) {
      const publish = button('Publish…', {
        class: 'btn',
        id: 'content-publish',
        onclick: async () => {
          showFormError(form, errorArea, null);
          if (dirty) {
            if (!form.reportValidity()) return;
            const saved = await withBusy(publish, (err) => showFormError(form, errorArea, err), save);
            if (!saved) return;
          }
          openPublish(current, afterChange);
        },
      });
      list.push(publish);
    }
    if (current && current.is_published) {
      list.push(
        button('Unpublish', {
          class: 'btn',
          id: 'content-unpublish',
          onclick: () => openUnpublish(current, afterChange),
        }),
      );
    }
    list.push(h('span', { class: 'spacer' }));
    if (current) {
      list.push(
        button('Delete', {
          class: 'btn btn-ghost btn-danger-text',
          id: 'content-delete',
          onclick: () => openDeleteContent(current, () => go('/content', { project: current.project_id })),
        }),
      );
    }
    actions.replaceChildren(...list);
  }

  drawStatus();
  drawActions();
  container.append(
    pageHeader(
      current ? `Edit ${info.noun}` : `New ${info.noun}`,
      `Project ${project ? project.name : ''}`,
      h(
        'a',
        { class: 'btn', href: `#/content?project=${encodeURIComponent(project ? project.id : '')}` },
        '← All content',
      ),
    ),
    statusLine,
    form,
  );
  if (!current) title.input.focus();
}

function renderEditor(container, { id, type, project: projectId }) {
  if (!id) {
    const project = currentProject(projectId);
    if (!project) {
      container.append(
        pageHeader('New content', null),
        h('section', { class: 'card' }, empty({ title: 'No projects yet', text: 'Content belongs to a project.' })),
      );
      return;
    }
    editorView(container, { item: null, type, project });
    return;
  }
  const header = pageHeader('Edit content', null);
  const holder = h('div', {}, loading());
  container.append(header, holder);
  (async () => {
    try {
      const item = await api('GET', `/api/internal/sources/content/${encodeURIComponent(id)}`);
      const project = ctx.projects.find((p) => p.id === item.project_id) || { id: item.project_id, name: item.source };
      const type = TYPES[item.type] ? item.type : 'blog';
      container.replaceChildren();
      editorView(container, { item, type, project });
    } catch (err) {
      holder.replaceChildren(errorBox(describe(err)));
    }
  })();
}
