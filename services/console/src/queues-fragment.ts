import { describePause, type QueueRow } from '#shared/jobs/queue-control';
import { formatAge } from '#shared/observability/format-age';
import { esc } from './escape.ts';

type QueuesPart = { ok: true; rows: QueueRow[] } | { ok: false; message: string };

const age = (ms: number): string => (ms < 1_000 ? 'just now' : formatAge(ms));
const count = (value: number, level: 'warn' | 'bad') => (value > 0 ? `<span class="${level}">${value}</span>` : String(value));

// Posted with fetch by the page's script (same origin); without script, a plain form post.
const action = (verb: 'pause' | 'resume', name: string, label: string, ghost: boolean) =>
  `<form class="queue-action" method="post" action="/queues/${verb}?name=${encodeURIComponent(name)}"><button type="submit" class="${ghost ? 'ghost small' : 'small'}" data-action="${verb}" data-queue="${esc(name)}">${label}</button></form>`;

const stateCell = (r: QueueRow) => {
  if (r.consumer === '-' && !r.paused) return '<span class="muted">–</span>';
  if (!r.paused) return '<span class="badge ok">active</span>';
  return `<span class="badge warn" title="${esc(describePause(r.paused))}">paused</span><div class="muted small-text">${esc(describePause(r.paused).replace(/^paused /, ''))}</div>`;
};

/** Each stream and consumer with its counts, pause state, and Pause/Resume buttons (a stream's act on every consumer). */
export const queuesFragment = (part: QueuesPart): string => {
  if (!part.ok) return `<p class="notice">${esc(part.message)}</p>`;
  if (part.rows.length === 0) return '<p class="empty">No streams yet.</p>';
  const seen = new Set<string>();
  const rows = part.rows.map((r) => {
    const first = !seen.has(r.stream);
    seen.add(r.stream);
    const siblings = part.rows.filter((o) => o.stream === r.stream && o.consumer !== '-');
    const streamButton =
      first && siblings.length > 0
        ? siblings.every((o) => o.paused)
          ? action('resume', r.stream, 'Resume all', true)
          : action('pause', r.stream, 'Pause all', true)
        : '';
    const consumerButton = r.consumer === '-' ? '' : r.paused ? action('resume', `${r.stream}/${r.consumer}`, 'Resume', false) : action('pause', `${r.stream}/${r.consumer}`, 'Pause', true);
    return `<tr data-stream="${esc(r.stream)}" data-consumer="${esc(r.consumer)}"><td class="mono">${first ? esc(r.stream) : ''}${streamButton}</td><td class="mono">${esc(r.consumer)}</td>
<td class="n">${r.messages}</td><td class="n">${count(r.pending, 'warn')}</td><td class="n">${count(r.ackPending, 'warn')}</td>
<td class="n">${count(r.redelivered, 'bad')}</td><td class="n">${r.oldestUnackedMs === undefined ? '<span class="muted">–</span>' : esc(age(r.oldestUnackedMs))}</td>
<td class="state">${stateCell(r)}</td><td>${consumerButton}</td></tr>`;
  });
  return `<table><thead><tr><th>Stream</th><th>Consumer</th><th class="n">Messages</th><th class="n">Pending</th><th class="n">Ack pending</th><th class="n">Redelivered</th><th class="n">Oldest unacked</th><th>State</th><th></th></tr></thead>
<tbody>${rows.join('')}</tbody></table>`;
};
