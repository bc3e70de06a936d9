import type { OrderView } from '#shared/contracts/orders';
import { checkReplay, CONTRACT_TARGETS } from '#shared/jobs/replay';
import type { ConsumerRow } from '#shared/nats/queue-stats';
import type { ConsoleDeadLetter, OrdersResult } from './console-data.ts';
import type { AdminSnapshot } from './snapshot.ts';
import { formatAge } from '#shared/observability/format-age';

/** Server-rendered admin pages. Every value goes through `esc`; the inline script only swaps fragments. */
export const esc = (value: unknown): string =>
  String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

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
.login{max-width:24rem;margin:12vh auto}.login input{width:100%;margin:.4rem 0 .8rem}.login .error{color:var(--bad);margin:.2rem 0 .6rem}
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

const count = (value: number, level: 'warn' | 'bad') => (value > 0 ? `<span class="${level}">${value}</span>` : String(value));

export const queuesFragment = (part: AdminSnapshot['queues']): string => {
  if (!part.ok) return `<p class="notice">${esc(part.message)}</p>`;
  if (part.rows.length === 0) return '<p class="empty">No streams yet.</p>';
  const rows = part.rows.map(
    (r: ConsumerRow) => `<tr><td class="mono">${esc(r.stream)}</td><td class="mono">${esc(r.consumer)}</td>
<td class="n">${r.messages}</td><td class="n">${count(r.pending, 'warn')}</td><td class="n">${count(r.ackPending, 'warn')}</td>
<td class="n">${count(r.redelivered, 'bad')}</td><td class="n">${r.oldestUnackedMs === undefined ? '<span class="muted">–</span>' : esc(age(r.oldestUnackedMs))}</td></tr>`,
  );
  return `<table><thead><tr><th>Stream</th><th>Consumer</th><th class="n">Messages</th><th class="n">Pending</th><th class="n">Ack pending</th><th class="n">Redelivered</th><th class="n">Oldest unacked</th></tr></thead>
<tbody>${rows.join('')}</tbody></table>`;
};

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
<td class="n mono">${id}</td><td class="mono">${esc(record.job)}</td><td class="mono">${esc(record.jobId)}</td>
<td><span class="badge ${record.reason === 'exhausted' ? 'warn' : 'bad'}">${esc(record.reason)}</span></td>
<td class="err">${esc(record.error)}</td><td class="n">${record.attempts}/${record.maxAttempts}</td><td class="n">${esc(age(now - Date.parse(storedAt)))}</td>
<td><details><summary class="mono">${esc(preview(record.payload))}</summary><pre>${esc(pretty(record.payload, record.payloadEncoding))}</pre>
<p class="muted">stored on <span class="mono">${esc(d.storedOn)}</span> · subject <span class="mono">${esc(record.subject)}</span> · first attempt ${esc(record.firstAttemptAt)}</p></details></td>
<td>${replayCell(d)}</td></tr>`;
};

export const deadLettersFragment = (part: AdminSnapshot['deadLetters'], now: number): string => {
  if (!part.ok) return `<p class="notice">${esc(part.message)}</p>`;
  if (part.items.length === 0) return '<p class="empty">No dead letters. Every job either finished or is still being retried.</p>';
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
    html: { queues: queuesFragment(s.queues), deadLetters: deadLettersFragment(s.deadLetters, now), orders: ordersFragment(s.orders) },
  };
};

// Swaps in the fragments of each snapshot; the dead-letter table only when its rows change, so an
// expanded payload stays open. Replay posts with fetch (same origin, the SameSite cookie goes along).
const SCRIPT = `
const $ = (id) => document.getElementById(id);
let dlqKey = $('dead-letters').dataset.key;
const live = (on, text) => { $('live-dot').className = on ? 'dot on' : 'dot'; $('live-text').textContent = text; };
const source = new EventSource('/events');
source.onmessage = (event) => {
  const s = JSON.parse(event.data);
  $('queues').innerHTML = s.html.queues;
  $('orders').innerHTML = s.html.orders;
  if (s.deadLetterKey !== dlqKey) { $('dead-letters').innerHTML = s.html.deadLetters; dlqKey = s.deadLetterKey; }
  $('dlq-count').textContent = s.deadLetterCount === null ? '' : String(s.deadLetterCount);
  live(true, 'live · updated ' + new Date(s.at).toLocaleTimeString());
};
source.onerror = () => live(false, 'reconnecting…');
document.addEventListener('submit', async (event) => {
  const form = event.target;
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

export const dashboardPage = (s: AdminSnapshot, options: { nonce: string; flash?: string; lookup?: { id: string; result: OrdersResult } }) => {
  const f = fragments(s);
  const lookup = options.lookup
    ? `<div id="lookup-result">${ordersFragment(options.lookup.result)}</div>`
    : '';
  return layout(
    'Handoff admin',
    `<div id="flash">${options.flash ? `<p class="flash">${esc(options.flash)}</p>` : ''}</div>
<section><h2>Queues <span class="count">streams and their consumers</span></h2><div id="queues">${f.html.queues}</div></section>
<section><h2>Dead letters <span class="count" id="dlq-count">${f.deadLetterCount ?? ''}</span></h2><div id="dead-letters" data-key="${esc(f.deadLetterKey)}">${f.html.deadLetters}</div></section>
<section><h2>Latest orders</h2><div id="orders">${f.html.orders}</div>
<form class="inline" method="get" action="/" style="margin-top:.8rem"><label for="order">Look up an order</label>
<input id="order" name="order" placeholder="ord_…" value="${esc(options.lookup?.id ?? '')}"><button class="ghost" type="submit">Show</button></form>${lookup}</section>`,
    {
      nonce: options.nonce,
      script: SCRIPT,
      header: `<header><h1>Handoff admin</h1><span class="live"><span id="live-dot" class="dot"></span><span id="live-text">snapshot ${esc(new Date(s.at).toISOString().slice(11, 19))} UTC</span></span>
<form method="post" action="/logout"><button class="ghost" style="color:#c6d0dd;border-color:#3a4658">Sign out</button></form></header>`,
    },
  );
};
