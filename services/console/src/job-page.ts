import type { Delivery, JobStory } from '#shared/jobs/job-story';
import { formatAge } from '#shared/observability/format-age';
import { esc } from './escape.ts';

const ms = (value: number | undefined) => (value === undefined ? '–' : value < 1_000 ? `${Math.round(value)} ms` : `${(value / 1_000).toFixed(1)} s`);

const stateBadge = (story: JobStory, now: number) => {
  const s = story.state;
  switch (s.kind) {
    case 'done':
      return `<span class="badge ok">done</span> <span class="muted">at ${esc(s.at)}</span>`;
    case 'dead':
      return `<span class="badge bad">dead</span> <span class="muted">${esc(s.reason ?? '')} at ${esc(s.at)}${s.deadLetterId ? ` · dead letter <a href="/?dl=${s.deadLetterId}#dl-${s.deadLetterId}">${s.deadLetterId}</a>` : ''}</span>`;
    case 'waiting':
      return `<span class="badge warn">waiting</span> <span class="muted">${esc(s.why)}${s.retryAt ? ` · next delivery from ${esc(s.retryAt)}` : ''}</span>`;
    case 'running':
      return s.overdue
        ? `<span class="badge warn">running?</span> <span class="muted">started on ${esc(s.worker)} ${esc(formatAge(now - Date.parse(s.since)))} ago, no end recorded: its worker may have stopped; the server delivers it again after its ack wait</span>`
        : `<span class="badge">running</span> <span class="muted">on ${esc(s.worker)} since ${esc(s.since)}</span>`;
  }
};

const outcome = (d: Delivery) => {
  if (!d.reply) return '<span class="badge">running</span>';
  const cls = d.outcome === 'ok' ? 'ok' : d.counted ? 'bad' : 'warn';
  return `<span class="badge ${cls}">${esc(d.outcome ?? d.reply)}</span>${d.counted ? '' : '<div class="muted">not an attempt</div>'}`;
};

const next = (d: Delivery) =>
  d.reply === 'nak' ? `retry in ${esc(ms(d.retryInMs))}` : d.reply === 'dead-letter' ? `dead letter ${d.deadLetterId ?? ''}` : d.reply === 'ack' ? 'done' : '–';

/** One job's story: what it is, every delivery to a worker, and where it is now. */
export const jobFragment = (story: JobStory, now = Date.now()): string => `<dl class="facts">
<dt>Job id</dt><dd class="mono" id="job-id">${esc(story.jobId)}</dd>
<dt>Job</dt><dd class="mono">${esc(story.job)}</dd>
<dt>Subject</dt><dd class="mono">${esc(story.subject)}</dd>
<dt>Queue</dt><dd class="mono">${esc(story.stream)}/${esc(story.consumer)}</dd>
<dt>Now</dt><dd id="job-state">${stateBadge(story, now)}</dd>
<dt>Trace</dt><dd class="mono" id="job-trace">${story.traceIds.length ? story.traceIds.map(esc).join('<br>') : '<span class="muted">none recorded</span>'}</dd>
<dt>Payload</dt><dd><pre class="mono">${esc(story.payload ?? '(not recorded)')}</pre></dd></dl>
<table id="attempts"><thead><tr><th class="n">Attempt</th><th>Worker</th><th>Started</th><th class="n">Duration</th><th>Outcome</th><th>Next</th><th>Error</th></tr></thead>
<tbody>${story.deliveries
  .map(
    (d) => `<tr class="attempt"><td class="n">${d.attempt}/${story.maxAttempts}</td><td class="mono">${esc(d.worker)}</td><td class="mono">${esc(d.startedAt)}</td>
<td class="n">${esc(ms(d.durationMs))}</td><td>${outcome(d)}</td><td class="muted">${next(d)}</td><td class="err">${esc(d.error ?? '')}</td></tr>`,
  )
  .join('')}</tbody></table>`;
