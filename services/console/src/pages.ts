import type { OrderView } from '#shared/contracts/orders';
import { checkReplay, CONTRACT_TARGETS } from '#shared/jobs/replay';
import { JOBS } from '#shared/contracts/jobs';
import { DeadLetterReason, type DeadLetterFilter } from '#shared/jobs/dead-letter';
import type { JobStory } from '#shared/jobs/job-story';
import type { ConsoleDeadLetter, OrdersResult } from './console-data.ts';
import { ratesFragment } from './charts.ts';
import { jobFragment } from './job-page.ts';
import { queuesFragment } from './queues-fragment.ts';
import type { AdminSnapshot } from './snapshot.ts';
import { formatAge } from '#shared/observability/format-age';
import { esc } from './escape.ts';

/** Server-rendered admin pages. Every value goes through `esc`; the inline script only swaps fragments. */
export { esc };

export const age = (ms: number): string => (ms < 1_000 ? 'just now' : formatAge(ms));

const CSS = `
:root{--ink:#18202b;--muted:#5f6b7a;--line:#e3e8ef;--bg:#f6f8fb;--card:#fff;--accent:#1f5fbf;--warn:#a15c00;--warn-bg:#fff4e0;--bad:#b42318;--bad-bg:#fdecea;--ok:#1c7a43;--ok-bg:#e6f6ec}
*{box-sizing:border-box}body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--ink);background:var(--bg)}
header{display:flex;align-items:center;gap:1rem;padding:.8rem 1.5rem;background:#101826;color:#fff}
header h1{font-size:1.05rem;margin:0;font-weight:600}header .live{margin-left:auto;font-size:.85rem;color:#c6d0dd}
.dot{display:inline-block;width:.55rem;height:.55rem;border-radius:50%;background:#8a94a3;margin-right:.4rem}.dot.on{background:#35c26b}
main{max-width:78rem;margin:0 auto;padding:1.2rem 1.5rem 3rem}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;margin:0 0 1.2rem;padding:1rem 1.2rem}
section h2{font-size:1rem;margin:0 0 .7rem;display:flex;gap:.6rem;align-items:baseline}h2 .count{color:var(--muted);font-weight:400;font-size:.9rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.4rem .55rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:.75rem;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}td.mono,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.82rem}
tr:last-child td{border-bottom:0}.muted{color:var(--muted)}.warn{color:var(--warn);font-weight:600}.bad{color:var(--bad);font-weight:600}
.badge{display:inline-block;padding:.05rem .5rem;border-radius:999px;font-size:.78rem;font-weight:600;background:#eef2f7;color:var(--ink)}
.badge.bad{background:var(--bad-bg);color:var(--bad)}.badge.warn{background:var(--warn-bg);color:var(--warn)}.badge.ok{background:var(--ok-bg);color:var(--ok)}
.notice{padding:.6rem .8rem;border-radius:6px;background:var(--warn-bg);color:var(--warn)}.flash{padding:.6rem .8rem;border-radius:6px;background:var(--ok-bg);color:var(--ok);margin-bottom:1rem}
.empty{color:var(--muted);padding:.6rem 0}
details summary{cursor:pointer;color:var(--accent)}details pre{white-space:pre-wrap;word-break:break-all;background:#f3f5f9;border-radius:6px;padding:.6rem;max-height:18rem;overflow:auto;margin:.4rem 0 0}
.err{min-width:12rem;max-width:26rem;overflow-wrap:break-word}.refusal{max-width:12rem;font-size:.78rem;overflow-wrap:anywhere}
details summary{overflow-wrap:anywhere}
button{font:inherit;border:1px solid var(--accent);background:var(--accent);color:#fff;border-radius:6px;padding:.25rem .8rem;cursor:pointer}button:hover{filter:brightness(1.1)}button:disabled{opacity:.6;cursor:default}
button.ghost{background:transparent;color:var(--accent)}
.bar{width:7rem;height:.45rem;background:#e7ecf3;border-radius:999px;overflow:hidden;display:inline-block;vertical-align:middle;margin-right:.4rem}.bar i{display:block;height:100%;background:var(--accent)}
form.inline{display:flex;gap:.5rem;align-items:center}input{font:inherit;padding:.3rem .5rem;border:1px solid #c9d2de;border-radius:6px}
.login{max-width:24rem;margin:12vh auto}
form.queue-action{display:inline-block;margin-left:.4rem}button.small{padding:.05rem .5rem;font-size:.78rem}.small-text{font-size:.75rem}
.chart{margin:0}.chart figcaption{font-size:.75rem;color:var(--muted)}.chart figcaption b{color:var(--ink)}table.rates td{vertical-align:middle}
dl.facts{display:grid;grid-template-columns:8rem 1fr;gap:.3rem .8rem;margin:0 0 1rem}dl.facts dt{color:var(--muted)}dl.facts dd{margin:0}dl.facts pre{margin:0;white-space:pre-wrap;word-break:break-all}
select{font:inherit;padding:.25rem .4rem;border:1px solid #c9d2de;border-radius:6px}.login input{width:100%;margin:.4rem 0 .8rem}.login .error{color:var(--bad);margin:.2rem 0 .6rem}
`;

export const layout = (title: string, body: string, options: { nonce: string; script?: string; header?: string }) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)}</title><style nonce="${options.nonce}">${CSS}</style></head>
<body>${options.header ?? ''}<main>${body}</main>${options.script ? `<script nonce="${options.nonce}">${options.script}</script>` : ''}</body></html>`;

export const loginPage = (nonce: string, error?: string) =>
  layout(
    'Handoff admin · sign in',
    `<section class="login"><h2>Handoff admin</h2>
<form method="post" action="/login">
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
${error ? `<p class="error" role="alert">${esc(error)}</p>` : ''}
<button type="submit">Sign in</button></form>
<p class="muted">The token is the console's <span class="mono">ADMIN_TOKEN</span> (with <span class="mono">npm start</span>: <span class="mono">.data/dev-secrets.json</span>).</p></section>`,
    { nonce },
  );

const PREVIEW = 80;
const preview = (payload: string) => (payload.length > PREVIEW ? `${payload.slice(0, PREVIEW)}…` : payload);
const pretty = (payload: string, encoding: string) => {
  if (encoding !== 'utf8') return `(base64) ${payload}`;
  try {
    return JSON.stringify(JSON.parse(payload), null, 2);
  } catch {
    return payload;
  }
};

// The same check the replay itself makes (shared/jobs/replay.ts): a record that names another
// target than its queue's gets no button, and the operator sees why.
const replayCell = ({ id, storedOn, record }: ConsoleDeadLetter) => {
  const check = checkReplay(CONTRACT_TARGETS, storedOn, record);
  if (check.ok) return `<form class="replay" method="post" action="/dlq/${id}/replay"><button type="submit">Replay</button></form>`;
  return `<span class="badge bad">not replayable</span><div class="muted refusal">${esc(check.reason)}</div>`;
};

const deadLetterRow = (d: ConsoleDeadLetter, now: number) => {
  const { id, storedAt, record } = d;
  return `<tr id="dl-${id}" data-id="${id}">
<td class="n mono">${id}</td><td class="mono">${esc(record.job)}</td><td class="mono"><a href="/jobs?id=${encodeURIComponent(record.jobId)}">${esc(record.jobId)}</a></td>
<td><span class="badge ${record.reason === 'exhausted' ? 'warn' : 'bad'}">${esc(record.reason)}</span></td>
<td class="err">${esc(record.error)}</td><td class="n">${record.attempts}/${record.maxAttempts}</td><td class="n">${esc(age(now - Date.parse(storedAt)))}</td>
<td><details><summary class="mono">${esc(preview(record.payload))}</summary><pre>${esc(pretty(record.payload, record.payloadEncoding))}</pre>
<p class="muted">stored on <span class="mono">${esc(d.storedOn)}</span> · subject <span class="mono">${esc(record.subject)}</span> · first attempt ${esc(record.firstAttemptAt)}</p></details></td>
<td>${replayCell(d)}</td></tr>`;
};

export const deadLettersFragment = (part: AdminSnapshot['deadLetters'], now: number, filtered = false): string => {
  if (!part.ok) return `<p class="notice">${esc(part.message)}</p>`;
  if (part.items.length === 0) return filtered ? '<p class="empty">No dead letters match.</p>' : '<p class="empty">No dead letters. Every job either finished or is still being retried.</p>';
  const more = part.total > part.items.length ? `<p class="muted">Showing the ${part.items.length} newest of ${part.total}.</p>` : '';
  return `<table><thead><tr><th class="n">ID</th><th>Job</th><th>Job id</th><th>Reason</th><th>Error</th><th class="n">Attempts</th><th class="n">Age</th><th>Payload</th><th></th></tr></thead>
<tbody>${part.items.map((d) => deadLetterRow(d, now)).join('')}</tbody></table>${more}`;
};

const STATUS_CLASS: Record<string, string> = { sent: 'ok', ready: 'ok', failed: 'bad', payment_mismatch: 'bad', expired: 'bad', pending_payment: '', paid: 'warn', generating: 'warn' };

const orderRow = (o: OrderView) => {
  const pct = o.tickets.total > 0 ? Math.round((100 * o.tickets.generated) / o.tickets.total) : 0;
  return `<tr><td class="mono">${esc(o.id)}</td><td>${esc(o.event)}</td><td>${esc(o.email)}</td>
<td><span class="badge ${STATUS_CLASS[o.status] ?? ''}">${esc(o.status.replace('_', ' '))}</span>${o.reason ? `<div class="muted err">${esc(o.reason)}</div>` : ''}</td>
<td><span class="bar"><i style="width:${pct}%"></i></span>${o.tickets.generated}/${o.tickets.total}</td>
<td class="n">${(o.amount / 100).toFixed(2)} ${esc(o.currency)}</td><td class="muted">${esc(o.updatedAt.replace('T', ' ').slice(0, 19))}</td></tr>`;
};

export const ordersFragment = (result: OrdersResult): string => {
  if (!result.ok) return `<p class="notice">${esc(result.message)}</p>`;
  if (result.orders.length === 0) return '<p class="empty">No orders yet.</p>';
  return `<table><thead><tr><th>Order</th><th>Event</th><th>Buyer</th><th>Status</th><th>Tickets</th><th class="n">Amount</th><th>Updated</th></tr></thead>
<tbody>${result.orders.map(orderRow).join('')}</tbody></table>`;
};

/** The parts of the page the live script replaces, and a key that changes when the DLQ does. */
export const fragments = (s: AdminSnapshot) => {
  const now = Date.parse(s.at);
  return {
    at: s.at,
    deadLetterCount: s.deadLetters.ok ? s.deadLetters.total : null,
    deadLetterKey: s.deadLetters.ok ? s.deadLetters.items.map((d) => `${d.id}`).join(',') : 'error',
    html: { queues: queuesFragment(s.queues), rates: ratesFragment(s.rates), deadLetters: deadLettersFragment(s.deadLetters, now), orders: ordersFragment(s.orders) },
  };
};

// Swaps in the fragments of each snapshot; the dead-letter table only when its rows change, so an
// expanded payload stays open. Replay posts with fetch (same origin, the SameSite cookie goes along).
const SCRIPT = `
const $ = (id) => document.getElementById(id);
let dlqKey = $('dead-letters').dataset.key;
const live = (on, text) => { $('live-dot').className = on ? 'dot on' : 'dot'; $('live-text').textContent = text; };
const source = new EventSource('/events');
const filtered = $('dead-letters').dataset.filtered === '1';
const flash = (text) => { $('flash').innerHTML = ''; const p = document.createElement('p'); p.className = 'flash'; p.textContent = text; $('flash').append(p); };
source.onmessage = (event) => {
  const s = JSON.parse(event.data);
  $('queues').innerHTML = s.html.queues;
  $('rates').innerHTML = s.html.rates;
  $('orders').innerHTML = s.html.orders;
  if (!filtered && s.deadLetterKey !== dlqKey) { $('dead-letters').innerHTML = s.html.deadLetters; dlqKey = s.deadLetterKey; }
  $('dlq-count').textContent = s.deadLetterCount === null ? '' : String(s.deadLetterCount);
  live(true, 'live · updated ' + new Date(s.at).toLocaleTimeString());
};
source.onerror = () => live(false, 'reconnecting…');
document.addEventListener('submit', async (event) => {
  const form = event.target;
  if (form.classList.contains('queue-action')) {
    event.preventDefault();
    const button = form.querySelector('button');
    button.disabled = true;
    const res = await fetch(form.action, { method: 'POST', headers: { accept: 'application/json' }, credentials: 'same-origin' });
    const body = await res.json().catch(() => ({}));
    if (res.ok) { flash(body.message); $('queues').innerHTML = body.queues; }
    else { button.disabled = false; alert((button.dataset.action === 'pause' ? 'Pause' : 'Resume') + ' failed: ' + (body.detail || body.title || res.status)); }
    return;
  }
  if (!form.classList.contains('replay')) return;
  event.preventDefault();
  const button = form.querySelector('button');
  button.disabled = true; button.textContent = 'Replaying…';
  const res = await fetch(form.action, { method: 'POST', headers: { accept: 'application/json' }, credentials: 'same-origin' });
  const row = form.closest('tr');
  if (res.ok) { row.remove(); $('flash').innerHTML = ''; const p = document.createElement('p'); p.className = 'flash'; p.textContent = 'Replayed dead letter ' + row.dataset.id + ': the job is back on its queue.'; $('flash').append(p); }
  else { const body = await res.json().catch(() => ({})); button.disabled = false; button.textContent = 'Replay'; alert('Replay failed: ' + (body.detail || body.title || res.status)); }
});
`;

const dlqFilterForm = (filter: DeadLetterFilter) => {
  const jobs = [...new Set(JOBS.map((j) => j.name))].sort();
  const option = (value: string, selected: boolean) => `<option value="${esc(value)}"${selected ? ' selected' : ''}>${esc(value)}</option>`;
  return `<form class="inline" method="get" action="/" id="dlq-filter" style="margin-bottom:.6rem"><label for="dlq-job">Job</label>
<select id="dlq-job" name="job"><option value="">any</option>${jobs.map((j) => option(j, filter.job === j)).join('')}</select>
<label for="dlq-reason">Reason</label><select id="dlq-reason" name="reason"><option value="">any</option>${DeadLetterReason.options.map((r) => option(r, filter.reason === r)).join('')}</select>
<button class="ghost" type="submit">Filter</button>${filter.job || filter.reason ? '<a href="/">clear</a> <span class="muted">(a filtered list is not live; reload to refresh)</span>' : ''}</form>`;
};

export const dashboardPage = (
  s: AdminSnapshot,
  options: { nonce: string; flash?: string; lookup?: { id: string; result: OrdersResult }; dlqFilter?: DeadLetterFilter; filteredDeadLetters?: AdminSnapshot['deadLetters'] },
) => {
  const f = fragments(s);
  const filter = options.dlqFilter ?? {};
  const filtered = options.filteredDeadLetters !== undefined;
  const deadLetters = filtered ? deadLettersFragment(options.filteredDeadLetters!, Date.parse(s.at), true) : f.html.deadLetters;
  const lookup = options.lookup
    ? `<div id="lookup-result">${ordersFragment(options.lookup.result)}</div>`
    : '';
  return layout(
    'Handoff admin',
    `<div id="flash">${options.flash ? `<p class="flash">${esc(options.flash)}</p>` : ''}</div>
<section><h2>Queues <span class="count">streams and their consumers</span></h2><div id="queues">${f.html.queues}</div></section>
<section><h2>Rates <span class="count">per queue, last hour</span></h2><div id="rates">${f.html.rates}</div></section>
<section><h2>Dead letters <span class="count" id="dlq-count">${f.deadLetterCount ?? ''}</span></h2>${dlqFilterForm(filter)}<div id="dead-letters" data-key="${esc(f.deadLetterKey)}" data-filtered="${filtered ? '1' : '0'}">${deadLetters}</div></section>
<section><h2>Latest orders</h2><div id="orders">${f.html.orders}</div>
<form class="inline" method="get" action="/" style="margin-top:.8rem"><label for="order">Look up an order</label>
<input id="order" name="order" placeholder="ord_…" value="${esc(options.lookup?.id ?? '')}"><button class="ghost" type="submit">Show</button></form>${lookup}</section>
<section><h2>Look up a job</h2><form class="inline" method="get" action="/jobs"><label for="job-lookup">Job id</label>
<input id="job-lookup" name="id" placeholder="a mail id, a dead letter's job id…"><button class="ghost" type="submit">Show</button></form></section>`,
    {
      nonce: options.nonce,
      script: SCRIPT,
      header: `<header><h1>Handoff admin</h1><span class="live"><span id="live-dot" class="dot"></span><span id="live-text">snapshot ${esc(new Date(s.at).toISOString().slice(11, 19))} UTC</span></span>
<form method="post" action="/logout"><button class="ghost" style="color:#c6d0dd;border-color:#3a4658">Sign out</button></form></header>`,
    },
  );
};

const header = `<header><h1><a href="/" style="color:inherit;text-decoration:none">Handoff admin</a></h1>
<form method="post" action="/logout" style="margin-left:auto"><button class="ghost" style="color:#c6d0dd;border-color:#3a4658">Sign out</button></form></header>`;

/** A job's own page: `jobs show` for operators in a browser. */
export const jobPage = (jobId: string, story: JobStory | undefined, nonce: string, now = Date.now()) =>
  layout(
    `Job ${jobId} · Handoff admin`,
    `<section><h2>Job <span class="count mono">${esc(jobId)}</span></h2>${
      story ? jobFragment(story, now) : `<p class="notice" id="job-missing">No job ${esc(jobId)}: no worker has started it in the last 7 days.</p>`
    }<p><a href="/">Back to the dashboard</a></p></section>`,
    { nonce, header },
  );
