import type { RateSeries } from './job-rates.ts';
import { esc } from './escape.ts';

const W = 220;
const H = 44;
const PAD = 2;

const rate = (value: number) => (value === 0 ? '0' : value < 0.1 ? value.toFixed(2) : value < 10 ? value.toFixed(1) : Math.round(value).toString());
const duration = (ms: number) => (ms < 1_000 ? `${Math.round(ms)} ms` : `${(ms / 1_000).toFixed(1)} s`);

/**
 * One small line chart as inline SVG (no script, no library; the page's CSP allows no more). Gaps
 * in the data (a step without attempts has no p95) break the line instead of drawing it at zero.
 */
export const lineChart = (values: ReadonlyArray<number | undefined>, options: { label: string; color: string; format: (v: number) => string; id: string }): string => {
  const defined = values.filter((v): v is number => v !== undefined);
  const max = Math.max(0, ...defined);
  const top = max > 0 ? max : 1;
  const step = values.length > 1 ? (W - 2 * PAD) / (values.length - 1) : 0;
  const y = (v: number) => (H - PAD - ((H - 2 * PAD) * v) / top).toFixed(1);
  let line = '';
  let dots = '';
  let pen = false;
  values.forEach((v, i) => {
    if (v === undefined) {
      pen = false;
      return;
    }
    const x = (PAD + i * step).toFixed(1);
    line += `${pen ? 'L' : 'M'}${x} ${y(v)}`;
    // A value with no neighbour draws no line: show it as a dot.
    if (!pen && values[i + 1] === undefined) dots += `<circle cx="${x}" cy="${y(v)}" r="2" fill="${options.color}"/>`;
    pen = true;
  });
  const last = [...values].reverse().find((v) => v !== undefined);
  const caption = `${options.label}: now ${last === undefined ? '–' : options.format(last)}, max ${defined.length ? options.format(max) : '–'}`;
  return `<figure class="chart" data-chart="${esc(options.id)}" data-points="${defined.length}" data-max="${max}">
<figcaption>${esc(options.label)} <b>${last === undefined ? '–' : esc(options.format(last))}</b> <span class="muted">max ${defined.length ? esc(options.format(max)) : '–'}</span></figcaption>
<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(caption)}"><line x1="0" y1="${H - PAD}" x2="${W}" y2="${H - PAD}" stroke="#e3e8ef"/>${line ? `<path d="${line}" fill="none" stroke="${options.color}" stroke-width="1.6" stroke-linejoin="round"/>` : ''}${dots}</svg></figure>`;
};

/** Per queue: done/s, failed/s and p95 over the last hour, from the job events. */
export const ratesFragment = (series: readonly RateSeries[]): string => {
  if (series.length === 0) return '<p class="empty">No job has finished in the last hour.</p>';
  const rows = series.map((s) => {
    const id = s.queue.replace(/[^A-Za-z0-9_-]/g, '_');
    return `<tr data-queue="${esc(s.queue)}"><td class="mono">${esc(s.queue)}<div class="muted">${esc(s.job)} · ${s.totals.done} done, ${s.totals.failed} failed</div></td>
<td>${lineChart(s.points.map((p) => p.done), { label: 'done/s', color: '#1c7a43', format: rate, id: `${id}-done` })}</td>
<td>${lineChart(s.points.map((p) => p.failed), { label: 'failed/s', color: '#b42318', format: rate, id: `${id}-failed` })}</td>
<td>${lineChart(s.points.map((p) => p.p95Ms), { label: 'p95', color: '#1f5fbf', format: duration, id: `${id}-p95` })}</td></tr>`;
  });
  const step = series[0]!.stepMs / 1_000;
  return `<table class="rates"><thead><tr><th>Queue</th><th>Done per second</th><th>Failed per second</th><th>p95 duration</th></tr></thead>
<tbody>${rows.join('')}</tbody></table><p class="muted">Last hour in ${step}-second steps, from the workers' job events.</p>`;
};
