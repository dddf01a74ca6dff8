// Small DOM helpers shared by every page.
//
// Everything is built with createElement and text nodes: text from the API can never become
// markup. No inline styles (the Content-Security-Policy forbids them); state is shown with
// classes, `hidden` and aria-* attributes.

const SVG_NS = 'http://www.w3.org/2000/svg';
const BOOLEAN_ATTRS = new Set([
  'checked',
  'disabled',
  'hidden',
  'multiple',
  'readonly',
  'required',
  'selected',
  'autofocus',
  'open',
  'novalidate',
]);

function applyAttrs(el, attrs, isSvg) {
  let value;
  for (const [key, raw] of Object.entries(attrs || {})) {
    if (raw === null || raw === undefined || raw === false) {
      continue;
    }
    if (key.startsWith('on') && typeof raw === 'function') {
      el.addEventListener(key.slice(2), raw);
    } else if (key === 'value' && !isSvg) {
      value = raw;
    } else if (BOOLEAN_ATTRS.has(key)) {
      el.setAttribute(key, '');
    } else {
      el.setAttribute(key, String(raw));
    }
  }
  return value;
}

function appendAll(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** An HTML element: h('button', {class: 'btn', onclick}, 'Save'). Strings become text. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  const value = applyAttrs(el, attrs, false);
  appendAll(el, children);
  if (value !== undefined) {
    el.value = value; // after the children, so a <select> has its options
  }
  return el;
}

/** An SVG element, with attributes only (never style). */
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  applyAttrs(el, attrs, true);
  appendAll(el, children);
  return el;
}

let lastId = 0;
/** A document-unique id for label/aria wiring. */
function uid(prefix) {
  lastId += 1;
  return `${prefix}-${lastId}`;
}

/** Goes to a view (`#/path?params`); re-renders when already there. */
function go(path, params = {}) {
  const query = new URLSearchParams(
    Object.entries(params).filter(([, v]) => v !== null && v !== undefined && v !== ''),
  ).toString();
  const target = `#${path}${query ? `?${query}` : ''}`;
  if (location.hash === target) {
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  } else {
    location.hash = target;
  }
}

// ---- Formatting ---------------------------------------------------------------------------

const relative = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
const dateFormat = new Intl.DateTimeFormat('en', {
  year: 'numeric',
  month: 'short',
  day: 'numeric',
});
const dateTimeFormat = new Intl.DateTimeFormat('en', {
  year: 'numeric',
  month: 'short',
  day: 'numeric',
  hour: 'numeric',
  minute: '2-digit',
});
const numberFormat = new Intl.NumberFormat('en');

const STEPS = [
  [60, 'second'],
  [60, 'minute'],
  [24, 'hour'],
  [30, 'day'],
  [12, 'month'],
  [Infinity, 'year'],
];

/** "3 minutes ago", "in 5 days", "just now". */
function relativeTime(iso, now = Date.now()) {
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  if (Math.abs(seconds) < 45) {
    return seconds <= 0 ? 'just now' : 'in a few seconds';
  }
  let amount = seconds;
  for (const [size, unit] of STEPS) {
    if (Math.abs(amount) < size) {
      return relative.format(Math.round(amount), unit);
    }
    amount /= size;
  }
  return relative.format(Math.round(amount), 'year');
}

function formatDate(iso) {
  return dateFormat.format(new Date(iso));
}

function formatDateTime(iso) {
  return dateTimeFormat.format(new Date(iso));
}

function formatNumber(n) {
  return numberFormat.format(n);
}

/** A <time> element showing `text`, with the full timestamp on hover. */
function timeEl(iso, text) {
  return h('time', { datetime: iso, title: formatDateTime(iso) }, text);
}

// ---- Building blocks ----------------------------------------------------------------------

function badge(text, kind = '') {
  return h('span', { class: `badge ${kind ? `badge-${kind}` : ''}`.trim() }, text);
}

function button(label, attrs = {}) {
  return h('button', { type: 'button', class: 'btn', ...attrs }, label);
}

/** Disables a button while its action runs. */
function busy(btn, on) {
  btn.disabled = on;
  if (on) {
    btn.setAttribute('aria-busy', 'true');
  } else {
    btn.removeAttribute('aria-busy');
  }
}

function pageHeader(title, subtitle, ...actions) {
  return h(
    'header',
    { class: 'page-header' },
    h(
      'div',
      {},
      h('h1', { id: 'page-title', tabindex: '-1' }, title),
      subtitle ? h('p', { class: 'subtitle' }, subtitle) : null,
    ),
    actions.length ? h('div', { class: 'page-actions' }, actions) : null,
  );
}

// Line icons on a 24x24 grid, drawn with the current text colour.
const ICONS = {
  key: [
    'M14.5 9.5l6.5-6.5',
    'M18 6l2.5 2.5',
    'M15.5 8.5l2 2',
    'M10.5 13.5a4.5 4.5 0 1 1-6.4 6.4 4.5 4.5 0 0 1 6.4-6.4z',
  ],
  folder: ['M3 6.5h6l2 2h10v10.5H3z'],
  document: ['M6 3h8.5L19 7.5V21H6z', 'M14 3v5h5', 'M9 13h7', 'M9 17h7'],
  chart: ['M3 21h18', 'M6 17v-5', 'M11 17V7', 'M16 17v-8', 'M21 17V4'],
  people: [
    'M9 11a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7z',
    'M2.5 20a6.5 6.5 0 0 1 13 0',
    'M16 4.5a3.5 3.5 0 0 1 0 6.5',
    'M18 14a6.5 6.5 0 0 1 3.5 6',
  ],
};

/** An inline SVG icon (decorative: hidden from screen readers). */
function icon(name) {
  return s(
    'svg',
    {
      viewBox: '0 0 24 24',
      width: '24',
      height: '24',
      fill: 'none',
      stroke: 'currentColor',
      'stroke-width': '2',
      'stroke-linecap': 'round',
      'stroke-linejoin': 'round',
      'aria-hidden': 'true',
      focusable: 'false',
    },
    (ICONS[name] || ICONS.folder).map((d) => s('path', { d })),
  );
}

function empty({ icon: iconName = 'folder', title, text, action }) {
  return h(
    'div',
    { class: 'empty' },
    h('div', { class: 'empty-icon', 'aria-hidden': 'true' }, icon(iconName)),
    h('h2', {}, title),
    text ? h('p', {}, text) : null,
    action || null,
  );
}

function loading(text = 'Loading…') {
  return h('p', { class: 'loading', role: 'status' }, text);
}

/**
 * An inline error alert, hidden until used: `show(err)` shows an ApiError, Error or sentence
 * (prefixed with `prefix` when given), `show(null)` hides it. Returns {box, show}.
 */
function inlineAlert(extraClass = '') {
  const box = h('div', { class: `alert alert-error ${extraClass}`.trim(), role: 'alert', hidden: true });
  const show = (err, prefix = '') => {
    box.textContent = err ? `${prefix}${typeof err === 'string' ? err : describe(err)}` : '';
    box.hidden = !err;
  };
  return { box, show };
}

/** An alert box for an error (ApiError or message), or null to show nothing. */
function errorBox(err) {
  return h('div', { class: 'alert alert-error', role: 'alert' }, typeof err === 'string' ? err : describe(err));
}

/** A titled card section (the title labels it), with an optional description line. */
function card(title, description, ...children) {
  const id = uid('card-title');
  return h(
    'section',
    { class: 'card', 'aria-labelledby': id },
    h(
      'div',
      { class: 'card-header' },
      h('div', {}, h('h2', { id }, title), description ? h('p', { class: 'muted small' }, description) : null),
    ),
    ...children,
  );
}

/**
 * A form control with its label and optional hint: `makeControl(id, hintId)` builds the
 * control. Returns {wrap, input}.
 */
function labelled({ label, name, hint, attrs = {} }, fallbackName, makeControl) {
  const id = attrs.id || uid(name || fallbackName);
  const hintId = hint ? `${id}-hint` : null;
  const input = makeControl(id, hintId);
  const wrap = h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    input,
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
  );
  return { wrap, input };
}

/** A labelled input. `attrs` go on the control; returns {wrap, input}. */
function field(spec) {
  const { name, type = 'text', value, attrs = {} } = spec;
  return labelled(spec, 'field', (id, hintId) =>
    h('input', { id, name, type, value, 'aria-describedby': hintId, ...attrs }),
  );
}

function textareaField(spec) {
  const { name, value = '', attrs = {} } = spec;
  return labelled(spec, 'text', (id, hintId) => {
    const input = h('textarea', { id, name, 'aria-describedby': hintId, ...attrs });
    input.value = value;
    return input;
  });
}

/** A labelled select; `options` are [value, text] pairs. */
function selectField(spec) {
  const { name, options, value, attrs = {} } = spec;
  return labelled(spec, 'select', (id, hintId) => {
    const input = h(
      'select',
      { id, name, 'aria-describedby': hintId, ...attrs },
      options.map(([v, text]) => h('option', { value: v }, text)),
    );
    if (value !== undefined) {
      input.value = value;
    }
    return input;
  });
}

/**
 * Shows an error inside `form`: the sentence in its alert box, and aria-invalid on the
 * controls named by a 422 answer.
 */
function showFormError(form, box, err) {
  for (const el of form.querySelectorAll('[aria-invalid]')) {
    el.removeAttribute('aria-invalid');
  }
  if (!err) {
    box.hidden = true;
    box.textContent = '';
    return;
  }
  box.textContent = typeof err === 'string' ? err : describe(err);
  box.hidden = false;
  let first = null;
  for (const { field: name } of fieldProblems(err)) {
    const control = form.elements.namedItem(name);
    if (control instanceof HTMLElement) {
      control.setAttribute('aria-invalid', 'true');
      first = first || control;
    }
  }
  if (first) first.focus();
}

/**
 * A form whose submit runs `action(form)`, with the submit button disabled meanwhile and any
 * error shown inline in the form's alert box. Returns {form, box}.
 */
function actionForm(attrs, children, action) {
  const box = h('div', { class: 'alert alert-error', role: 'alert', hidden: true });
  const form = h('form', attrs, box, children);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const submit = event.submitter || form.querySelector('[type=submit]');
    await withBusy(
      submit,
      (err) => form.isConnected && showFormError(form, box, err),
      () => action(form),
    );
  });
  return { form, box };
}

/**
 * A modal dialog with a form. `onSubmit(form, close)` runs on submit; throwing shows the error
 * inside the dialog. Escape and Cancel close it. Focus returns to where it was.
 */
function openDialog({
  title,
  intro,
  body = [],
  submitLabel,
  submitClass = 'btn-primary',
  cancelLabel = 'Cancel',
  onSubmit,
  onClose,
  id,
}) {
  const returnTo = document.activeElement;
  const titleId = uid('dialog-title');
  const introId = intro ? uid('dialog-intro') : null;
  const dlg = h('dialog', { class: 'modal', id, 'aria-labelledby': titleId, 'aria-describedby': introId });
  const close = () => dlg.open && dlg.close();
  const { form } = actionForm({ class: 'modal-form' }, [], async (f) => {
    if (onSubmit) {
      await onSubmit(f, close);
    } else {
      close();
    }
  });
  const alertBox = form.firstChild;
  alertBox.remove();
  form.append(
    h('div', { class: 'modal-header' }, h('h2', { id: titleId }, title), intro ? h('p', { id: introId }, intro) : null),
    h('div', { class: 'modal-body' }, alertBox, body),
    h(
      'div',
      { class: 'modal-footer' },
      cancelLabel ? button(cancelLabel, { onclick: close }) : null,
      submitLabel ? h('button', { type: 'submit', class: `btn ${submitClass}` }, submitLabel) : null,
    ),
  );
  dlg.append(form);
  dlg.addEventListener('close', () => {
    dlg.remove();
    if (onClose) onClose();
    if (returnTo instanceof HTMLElement && returnTo.isConnected) returnTo.focus();
  });
  document.body.append(dlg);
  dlg.showModal();
  return { dialog: dlg, form, close };
}

/** Asks before a destructive action; runs `action` inside the dialog, errors shown there. */
function confirmAction({ title, message, confirmLabel, danger = true, action }) {
  return openDialog({
    title,
    intro: message,
    submitLabel: confirmLabel,
    submitClass: danger ? 'btn-danger' : 'btn-primary',
    onSubmit: async (_form, close) => {
      await action();
      close();
    },
  });
}

/** How many toasts stay on screen at once; a new one pushes out the oldest. */
const MAX_TOASTS = 3;

/**
 * A short message at the corner of the screen, announced to screen readers. It stays until it
 * is dismissed (its Dismiss button is reachable by keyboard) or pushed out by newer ones: no
 * time limit, so nobody has to read it within a few seconds (WCAG 2.2.1).
 */
function toast(message, kind = '') {
  const region = document.getElementById('toasts');
  if (!region) return;
  const dismiss = h(
    'button',
    { type: 'button', class: 'toast-dismiss', 'aria-label': `Dismiss: ${message}` },
    'Dismiss',
  );
  const item = h(
    'div',
    { class: `toast ${kind ? `toast-${kind}` : ''}`.trim() },
    h('span', { class: 'toast-text' }, message),
    dismiss,
  );
  dismiss.addEventListener('click', () => {
    // Keep keyboard focus in the region rather than dropping it to the document's start.
    const next = item.nextElementSibling || item.previousElementSibling;
    item.remove();
    const target = next && next.querySelector('button');
    if (target) target.focus();
    else document.getElementById('main')?.focus();
  });
  region.append(item);
  while (region.children.length > MAX_TOASTS) {
    region.firstElementChild.remove();
  }
}

/**
 * Runs `action` with `btn` (if any) disabled and marked busy; a failure is shown through
 * `showError(err)` (an inline alert) instead of escaping. `showError(null)` clears the alert
 * first. Returns whether the action succeeded.
 */
async function withBusy(btn, showError, action) {
  showError(null);
  if (btn) busy(btn, true);
  try {
    await action();
    return true;
  } catch (err) {
    showError(err);
    return false;
  } finally {
    if (btn) busy(btn, false);
  }
}

/**
 * A select whose change takes effect only when its Apply button is pressed (or Enter in a
 * form), never on each arrow key (WCAG 3.2.2). `onApply(value)` runs then. The button is
 * disabled while the value is the one applied. Returns {wrap, select, apply}.
 */
function confirmSelect({
  id,
  label,
  labelHidden = false,
  name,
  options,
  value,
  applyLabel = 'Apply',
  applyAttrs = {},
  onApply,
}) {
  const select = h('select', { id, name, 'aria-label': labelHidden ? label : null }, options);
  select.value = value;
  let applied = select.value;
  const apply = h('button', { type: 'submit', class: 'btn btn-sm', disabled: true, ...applyAttrs }, applyLabel);
  select.addEventListener('change', () => {
    apply.disabled = select.value === applied;
  });
  const wrap = h('form', { class: 'picker' }, labelHidden ? null : h('label', { for: id }, label), select, apply);
  wrap.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (select.value === applied) return;
    const ok = await onApply(select.value);
    if (ok !== false) applied = select.value;
    else select.value = applied;
    apply.disabled = select.value === applied;
  });
  return { wrap, select, apply };
}

/** A table that turns into stacked cards on narrow screens; `columns` are header labels. */
function table(columns, rows, caption) {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'table table-responsive' },
      caption ? h('caption', { class: 'sr-only' }, caption) : null,
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          columns.map((c) => h('th', { scope: 'col' }, c.label ?? c)),
        ),
      ),
      h('tbody', {}, rows),
    ),
  );
}

/** A cell carrying its column name for the narrow-screen layout. */
function td(label, content, attrs = {}) {
  return h('td', { 'data-label': label, ...attrs }, content);
}
