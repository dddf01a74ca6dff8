// The usage bar chart: one stacked bar per day (accepted below, rejected above), built as
// inline SVG with DOM calls. Colours come from classes in app.css, never from style
// attributes, so the chart works under the page's Content-Security-Policy.

const HEIGHT = 200;
const PAD = { top: 12, right: 8, bottom: 28, left: 44 };
const dayFormat = new Intl.DateTimeFormat('en', { month: 'short', day: 'numeric', timeZone: 'UTC' });

/** "Mar 3" for a `YYYY-MM-DD` UTC day. */
function dayLabel(date) {
  return dayFormat.format(new Date(`${date}T00:00:00Z`));
}

/** The smallest "round" number (1, 2, 2.5, 5 x 10^n) at or above `value`; at least 1. */
function niceMax(value) {
  if (value <= 4) return Math.max(1, Math.ceil(value));
  const pow = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * pow >= value) return step * pow;
  }
  return 10 * pow;
}

function ticks(max) {
  return Number.isInteger(max / 2) ? [0, max / 2, max] : [0, max];
}

/** Totals over all rows. */
function totals(rows) {
  const accepted = rows.reduce((sum, r) => sum + r.requests, 0);
  const rejected = rows.reduce((sum, r) => sum + r.rejected, 0);
  return { accepted, rejected, all: accepted + rejected };
}

/** An <svg> bar chart of `rows` ([{date, requests, rejected}], oldest first), `width` px wide. */
function barChart(rows, width) {
  const w = Math.max(280, Math.floor(width));
  const plotW = w - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const max = niceMax(Math.max(0, ...rows.map((r) => r.requests + r.rejected)));
  const band = plotW / Math.max(1, rows.length);
  const barW = Math.max(1, Math.min(28, band * 0.7));
  const y = (v) => PAD.top + plotH - (v / max) * plotH;
  // A non-zero count stays visible even next to a much larger day.
  const heightOf = (v) => (v > 0 ? Math.max(2, (v / max) * plotH) : 0);
  const sum = totals(rows);
  const first = rows.length ? dayLabel(rows[0].date) : '';
  const last = rows.length ? dayLabel(rows[rows.length - 1].date) : '';

  const svg = s('svg', {
    viewBox: `0 0 ${w} ${HEIGHT}`,
    width: w,
    height: HEIGHT,
    role: 'img',
    'aria-label': `Requests per day from ${first} to ${last}: ${sum.accepted} accepted, ${sum.rejected} rejected.`,
  });

  for (const tick of ticks(max)) {
    const ty = y(tick);
    svg.append(
      s('line', { class: tick === 0 ? 'baseline' : 'grid', x1: PAD.left, x2: w - PAD.right, y1: ty, y2: ty }),
      s('text', { class: 'axis', x: PAD.left - 8, y: ty + 4, 'text-anchor': 'end' }, formatNumber(tick)),
    );
  }

  rows.forEach((row, i) => {
    const x = PAD.left + i * band + (band - barW) / 2;
    const group = s(
      'g',
      { class: 'day', 'data-date': row.date },
      s(
        'title',
        {},
        `${dayLabel(row.date)}: ${formatNumber(row.requests)} accepted, ${formatNumber(row.rejected)} rejected`,
      ),
      s('rect', { class: 'bar-hit', x: PAD.left + i * band, y: PAD.top, width: band, height: plotH }),
    );
    const acceptedH = heightOf(row.requests);
    const rejectedH = heightOf(row.rejected);
    const base = PAD.top + plotH;
    if (acceptedH > 0) {
      group.append(
        s('rect', { class: 'bar-accepted', x, y: base - acceptedH, width: barW, height: acceptedH, rx: 1.5 }),
      );
    }
    if (rejectedH > 0) {
      group.append(
        s('rect', {
          class: 'bar-rejected',
          x,
          y: base - acceptedH - rejectedH,
          width: barW,
          height: rejectedH,
          rx: 1.5,
        }),
      );
    }
    svg.append(group);
  });

  const labelled = [...new Set([0, Math.floor((rows.length - 1) / 2), rows.length - 1])].filter((i) => i >= 0);
  for (const i of labelled) {
    const anchor = i === 0 ? 'start' : i === rows.length - 1 ? 'end' : 'middle';
    const x = anchor === 'start' ? PAD.left : anchor === 'end' ? w - PAD.right : PAD.left + (i + 0.5) * band;
    svg.append(s('text', { class: 'axis', x, y: HEIGHT - 8, 'text-anchor': anchor }, dayLabel(rows[i].date)));
  }
  return svg;
}
