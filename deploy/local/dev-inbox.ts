import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/**
 * The local SMTP server `npm start` runs when SMTP_URL is unset: it keeps every message and
 * serves a small web inbox where a person reads the magic link, clicks it and downloads tickets.
 * Development only: no auth, no TLS, loopback only.
 */
export interface StoredMail {
  id: number;
  receivedAt: string;
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
  attachments: Array<{ filename: string; contentType: string; size: number; content: Buffer }>;
}

export interface DevInbox {
  smtpUrl: string;
  webUrl: string;
  messages(): StoredMail[];
  close(): Promise<void>;
}

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const page = (title: string, body: string) => `<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>${escape(title)}</title><meta name="viewport" content="width=device-width,initial-scale=1">
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d2430}
table{border-collapse:collapse;width:100%}td,th{padding:.4rem .6rem;border-bottom:1px solid #dde3ea;text-align:left}
a{color:#0b5cad}iframe{width:100%;height:28rem;border:1px solid #dde3ea}.muted{color:#5b6775}</style></head>
<body>${body}</body></html>`;

const addresses = (value: ParsedMail['to']): string[] =>
  (Array.isArray(value) ? value : value ? [value] : []).flatMap((a) => a.value.map((v) => v.address ?? ''));

export const startDevInbox = async (options: { smtpPort: number; webPort: number; host?: string }): Promise<DevInbox> => {
  const host = options.host ?? '127.0.0.1';
  const mails: StoredMail[] = [];
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      simpleParser(stream).then(
        (parsed) => {
          mails.push({
            id: mails.length + 1,
            receivedAt: new Date().toISOString(),
            from: parsed.from?.text ?? '',
            to: addresses(parsed.to),
            subject: parsed.subject ?? '',
            text: parsed.text ?? '',
            html: typeof parsed.html === 'string' ? parsed.html : '',
            attachments: parsed.attachments.map((a) => ({ filename: a.filename ?? 'attachment', contentType: a.contentType, size: a.size, content: a.content })),
          });
          callback();
        },
        (error: Error) => callback(error),
      );
    },
  });
  await new Promise<void>((resolve, reject) => {
    smtp.once('error', reject);
    smtp.listen(options.smtpPort, host, () => resolve());
  });
  const smtpPort = (smtp.server.address() as AddressInfo).port;

  const web: Server = createHttpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://inbox');
    const parts = url.pathname.split('/').filter(Boolean);
    const mail = parts[1] ? mails.find((m) => m.id === Number(parts[1])) : undefined;
    if (url.pathname === '/api/messages') {
      const list = mails.map(({ attachments, ...m }) => ({ ...m, attachments: attachments.map(({ content: _c, ...a }, i) => ({ ...a, url: `/messages/${m.id}/attachments/${i}` })) }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(list));
    } else if (url.pathname === '/') {
      const rows = [...mails].reverse().map((m) => `<tr><td><a href="/messages/${m.id}">${escape(m.subject || '(no subject)')}</a></td><td>${escape(m.to.join(', '))}</td><td class="muted">${m.attachments.length || ''}</td><td class="muted">${escape(m.receivedAt)}</td></tr>`);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(
        page('Handoff dev inbox', `<h1>Dev inbox</h1><p class="muted">Every email the local system sends lands here. Refresh to see new mail.</p>
<table><tr><th>Subject</th><th>To</th><th>Attachments</th><th>Received</th></tr>${rows.join('') || '<tr><td colspan="4" class="muted">No mail yet.</td></tr>'}</table>`),
      );
    } else if (parts[0] === 'messages' && mail && parts.length === 2) {
      // A link in the email opens in the inbox's own tab (base target _top), as a mail client
      // would open it in the browser: the sites it leads to refuse to be framed.
      const files = mail.attachments.map((a, i) => `<li><a href="/messages/${mail.id}/attachments/${i}">${escape(a.filename)}</a> <span class="muted">${a.size} bytes</span></li>`).join('');
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(
        page(mail.subject, `<p><a href="/">← inbox</a></p><h1>${escape(mail.subject)}</h1><p class="muted">From ${escape(mail.from)} to ${escape(mail.to.join(', '))}</p>
${mail.html ? `<iframe title="The email" sandbox="allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation" srcdoc="${escape(`<base target="_top">${mail.html}`)}"></iframe>` : `<pre>${escape(mail.text)}</pre>`}
${files ? `<h2>Attachments</h2><ul>${files}</ul>` : ''}`),
      );
    } else if (parts[0] === 'messages' && mail && parts[2] === 'attachments') {
      const file = mail.attachments[Number(parts[3])];
      if (!file) res.writeHead(404).end('not found');
      else res.writeHead(200, { 'content-type': file.contentType, 'content-disposition': `attachment; filename="${file.filename.replace(/"/g, '')}"` }).end(file.content);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  });
  await new Promise<void>((resolve) => web.listen(options.webPort, host, resolve));
  const webPort = (web.address() as AddressInfo).port;
  return {
    smtpUrl: `smtp://${host}:${smtpPort}`,
    webUrl: `http://${host}:${webPort}`,
    messages: () => [...mails],
    close: async () => {
      await new Promise<void>((resolve) => smtp.close(() => resolve()));
      await new Promise<void>((resolve) => web.close(() => resolve()));
    },
  };
};
