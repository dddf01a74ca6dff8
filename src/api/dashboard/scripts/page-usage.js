// Usage: requests per day per key over the last 30 days, accepted and rejected, one chart
// per key (or only the key asked for).

const DAYS = 30;

function stat(label, value, name) {
  return h(
    'div',
    { class: 'stat' },
    h('span', { class: 'stat-value', 'data-stat': name }, formatNumber(value)),
    h('span', { class: 'stat-label' }, label),
  );
}

function dataTable(rows) {
  return h(
    'details',
    {},
    h('summary', {}, 'Show the numbers'),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, 'Day (UTC)'),
            h('th', { scope: 'col' }, 'Accepted'),
            h('th', { scope: 'col' }, 'Rejected'),
          ),
        ),
        h(
          'tbody',
          {},
          rows
            .slice()
            .reverse()
            .map((r) =>
              h(
                'tr',
                {},
                h('td', {}, dayLabel(r.date)),
                h('td', {}, formatNumber(r.requests)),
                h('td', {}, formatNumber(r.rejected)),
              ),
            ),
        ),
      ),
    ),
  );
}

function keyCard(key, rows) {
  const sum = totals(rows);
  const status = keyStatus(key);
  const chartBox = h('div', { class: 'chart' });
  const card = h(
    'section',
    { class: 'card', 'data-key-id': key.id, 'aria-label': `Usage of ${key.name}` },
    h(
      'div',
      { class: 'card-header' },
      h('div', {}, h('h2', {}, key.name), h('p', { class: 'key-prefix muted' }, `${key.key_prefix}…`)),
      badge(status.label, status.kind),
    ),
    h(
      'div',
      { class: 'card-body stack' },
      h(
        'div',
        { class: 'usage-summary' },
        stat('Total', sum.all, 'total'),
        stat('Accepted', sum.accepted, 'accepted'),
        stat('Rejected', sum.rejected, 'rejected'),
      ),
      chartBox,
      h(
        'div',
        { class: 'legend', 'aria-hidden': 'true' },
        h('span', { class: 'legend-item' }, h('span', { class: 'swatch swatch-accepted' }), 'Accepted'),
        h('span', { class: 'legend-item' }, h('span', { class: 'swatch swatch-rejected' }), 'Rejected'),
      ),
      sum.all === 0 ? h('p', { class: 'muted small' }, `No requests with this key in the last ${DAYS} days.`) : null,
      dataTable(rows),
    ),
  );
  return { card, chartBox, rows };
}

function renderUsage(container, query) {
  if (!ctx.projects.length) {
    container.append(
      pageHeader('Usage', null),
      h(
        'section',
        { class: 'card' },
        empty({ icon: 'chart', title: 'No projects yet', text: 'Usage is counted per API key of a project.' }),
      ),
    );
    return;
  }
  const project = currentProject(query.get('project'));
  const wantedKey = query.get('key');
  const list = h('div', { class: 'usage-grid' }, loading());
  container.append(
    pageHeader(
      'Usage',
      `Requests per day over the last ${DAYS} days (UTC). Rejected requests were refused for the key: rate limited, forbidden, or sent with an inactive or expired key.`,
      projectPicker(project, (id) => go('/usage', { project: id })),
    ),
    list,
  );

  let charts = [];
  const draw = () => {
    for (const chart of charts) {
      chart.chartBox.replaceChildren(barChart(chart.rows, chart.chartBox.clientWidth || 640));
    }
  };
  let pending = null;
  const onResize = () => {
    clearTimeout(pending);
    pending = setTimeout(draw, 120);
  };
  window.addEventListener('resize', onResize);

  (async () => {
    try {
      let keys = await api('GET', `/api/internal/projects/${encodeURIComponent(project.id)}/api-keys`);
      const notes = [];
      if (wantedKey) {
        const only = keys.filter((k) => k.id === wantedKey);
        if (only.length) {
          keys = only;
          notes.push(
            h(
              'p',
              {},
              h(
                'a',
                { href: `#/usage?project=${encodeURIComponent(project.id)}` },
                `Show every key of ${project.name}`,
              ),
            ),
          );
        } else {
          notes.push(
            h(
              'div',
              { class: 'alert alert-info', role: 'status' },
              'That key is not in this project. Showing all of its keys.',
            ),
          );
        }
      }
      if (!keys.length) {
        list.replaceChildren(
          h(
            'section',
            { class: 'card' },
            empty({
              icon: 'key',
              title: 'No API keys yet',
              text: 'Usage appears here once a key of this project is used.',
              action: h(
                'a',
                { class: 'btn', href: `#/keys?project=${encodeURIComponent(project.id)}` },
                'Go to API Keys',
              ),
            }),
          ),
        );
        return;
      }
      const usage = await Promise.all(
        keys.map((k) => api('GET', `/api/internal/api-keys/${encodeURIComponent(k.id)}/usage?days=${DAYS}`)),
      );
      charts = keys.map((k, i) => keyCard(k, usage[i]));
      list.replaceChildren(...notes, ...charts.map((c) => c.card));
      draw();
    } catch (err) {
      list.replaceChildren(errorBox(err));
    }
  })();
  // The router runs this when the page is left, so the listener never outlives the page.
  return () => {
    window.removeEventListener('resize', onResize);
    clearTimeout(pending);
  };
}
