/**
 * The buyer page's one script, loaded as a module (deferred, strict; the build may add an
 * `export {}`, which only a module accepts). Everything works without it; it adds two things:
 * - attendee rows are added and removed in place (without it, the same buttons ask the server);
 * - an order's status follows GET /orders/:id/events live, without reloading.
 * Problems (application/problem+json) are shown in words; a dropped stream resumes from the
 * last event it got (Last-Event-ID).
 */
(() => {
  const FINAL = ['sent', 'failed', 'payment_mismatch', 'expired'];
  const byId = (id) => document.getElementById(id);
  const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // ---- attendee rows --------------------------------------------------------------------------
  const renumber = (list) => {
    const rows = [...list.children];
    rows.forEach((row, i) => {
      const label = row.querySelector('label');
      const input = row.querySelector('input');
      label.textContent = `Attendee ${i + 1}`;
      label.htmlFor = input.id = `attendee-${i + 1}`;
      let remove = row.querySelector('button[name="op"]');
      if (rows.length > 1 && !remove) {
        remove = document.createElement('button');
        remove.type = 'submit';
        remove.className = 'secondary';
        remove.name = 'op';
        remove.formNoValidate = true;
        remove.textContent = 'Remove';
        row.querySelector('.row').append(remove);
      }
      if (rows.length === 1 && remove) remove.remove();
      else if (remove) {
        remove.value = `remove:${i}`;
        remove.setAttribute('aria-label', `Remove attendee ${i + 1}`);
      }
    });
  };

  const setUpOrderForm = (form) => {
    const list = byId('attendees');
    form.addEventListener('click', (event) => {
      const button = event.target.closest('button[name="op"]');
      if (!button || !list) return;
      if (button.value === 'add') {
        if (list.children.length >= 100) return;
        event.preventDefault();
        const row = list.firstElementChild.cloneNode(true);
        row.querySelector('input').value = '';
        list.append(row);
        renumber(list);
        row.querySelector('input').focus();
      } else if (button.value.startsWith('remove:')) {
        event.preventDefault();
        const row = button.closest('li');
        const next = row.nextElementSibling ?? row.previousElementSibling;
        row.remove();
        renumber(list);
        next?.querySelector('input')?.focus();
      }
    });
  };

  // ---- live order status ----------------------------------------------------------------------
  const problemText = async (response) => {
    if ((response.headers.get('content-type') ?? '').includes('application/problem+json')) {
      try {
        const problem = await response.json();
        return problem.detail || problem.title;
      } catch {
        // fall through to the status line
      }
    }
    return `The live status is unavailable right now (HTTP ${response.status}).`;
  };

  const fill = (labels, order) =>
    (labels[order.status] ?? order.status).replaceAll('{generated}', String(order.tickets.generated)).replaceAll('{total}', String(order.tickets.total));

  const render = (labels, order) => {
    const done = order.status === 'ready' || order.status === 'sent';
    const status = byId('order-status');
    status.textContent = fill(labels, order);
    status.className = `status status-${order.status}`;
    const meter = byId('order-meter');
    const count = done ? order.tickets.total : order.tickets.generated;
    meter.max = order.tickets.total;
    meter.value = count;
    meter.textContent = `${count} of ${order.tickets.total}`;
    const reason = byId('order-reason');
    reason.textContent = order.reason ?? '';
    reason.hidden = !order.reason;
    byId('order-pay').hidden = order.status !== 'pending_payment';
    const links = byId('ticket-links');
    if (done && links.children.length === 0) {
      order.attendees.forEach((attendee, i) => {
        const a = document.createElement('a');
        a.href = `/orders/${encodeURIComponent(order.id)}/tickets/${i + 1}`;
        a.download = '';
        a.textContent = `Ticket ${i + 1} — ${attendee.name} (PDF)`;
        const li = document.createElement('li');
        li.append(a);
        links.append(li);
      });
    }
    byId('order-tickets').hidden = !done;
  };

  /** Reads one text/event-stream body, calling `onEvent({id, data})` per event; resolves at its end. */
  const readEvents = async (body, onEvent) => {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, '\n');
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = { id: undefined, data: [] };
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'data') event.data.push(text);
          else if (field === 'id') event.id = text;
        }
        if (event.data.length > 0) onEvent({ id: event.id, data: event.data.join('\n') });
      }
    }
  };

  const follow = async (section) => {
    const labels = JSON.parse(section.dataset.labels);
    const note = byId('live-note');
    const problem = byId('live-problem');
    const complete = () => {
      note.textContent = 'This order is complete.';
    };
    let lastId;
    let status;
    let delay = 1000;
    note.textContent = 'This status updates by itself.';
    for (;;) {
      let response;
      try {
        const headers = { accept: 'text/event-stream' };
        if (lastId) headers['last-event-id'] = lastId;
        response = await fetch(`/orders/${encodeURIComponent(section.dataset.order)}/events`, { headers, cache: 'no-store', credentials: 'same-origin' });
      } catch {
        response = undefined;
      }
      if (response?.status === 204) return complete();
      if (response && !response.ok) {
        problem.textContent = await problemText(response);
        problem.hidden = false;
        // A refusal (signed out, not yours, too many views open) stands; a server error may pass.
        if (response.status < 500) return;
      } else if (response) {
        problem.hidden = true;
        delay = 1000;
        try {
          await readEvents(response.body, (event) => {
            if (event.id) lastId = event.id;
            const order = JSON.parse(event.data);
            status = order.status;
            render(labels, order);
          });
        } catch {
          // the connection dropped: resume below
        }
        if (FINAL.includes(status)) return complete();
      }
      await wait(delay);
      delay = Math.min(delay * 2, 15000);
    }
  };

  const start = () => {
    const form = byId('order-form');
    if (form) setUpOrderForm(form);
    const live = byId('order-live');
    if (live && live.dataset.live === 'true') void follow(live);
  };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
