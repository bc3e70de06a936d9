import { createHash } from 'node:crypto';
import type { FastifyReply } from 'fastify';

/**
 * The pages of the sign-in link: a confirmation page whose button spends the token, and a page
 * for each way the link can fail. No script at all; the one inline style is allowed by its hash,
 * so the policy can stay `default-src 'none'`.
 */

const esc = (value: string): string => value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const CSS = `*{box-sizing:border-box}body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;
font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#18202b;background:#f6f8fb}
main{max-width:26rem;margin:1.5rem;padding:2rem 2.2rem;background:#fff;border:1px solid #e3e8ef;border-radius:10px;text-align:center}
h1{font-size:1.3rem;margin:0 0 .6rem}p{margin:0 0 1.2rem;color:#5f6b7a}
button{font:inherit;font-weight:600;border:0;background:#1f5fbf;color:#fff;border-radius:8px;padding:.7rem 2.4rem;cursor:pointer}
button:hover,button:focus{filter:brightness(1.1)}a{color:#1f5fbf}.fine{font-size:.85rem;margin:1.2rem 0 0}`;

const STYLE_HASH = createHash('sha256').update(CSS).digest('base64');

/**
 * Headers of every page that carries or spends a token: never cached, never in a Referer (the
 * URL holds the token), never indexed, never framed (clickjacking the button), no script.
 */
export const SIGN_IN_HEADERS = {
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-robots-tag': 'noindex, nofollow',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy': `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
} as const;

const layout = (title: string, body: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex,nofollow"><meta name="referrer" content="no-referrer">
<title>${esc(title)}</title><style>${CSS}</style></head>
<body><main>${body}</main></body></html>`;

/** The page a sign-in link opens. Fetching it spends nothing: only the button's POST does. */
export const confirmPage = (token: string) =>
  layout(
    'Sign in to Handoff',
    `<h1>Sign in to Handoff</h1>
<p>Press the button to finish signing in on this device.</p>
<form method="post" action="/auth/verify">
<input type="hidden" name="token" value="${esc(token)}">
<button type="submit">Sign in</button>
</form>
<p class="fine">Didn't ask to sign in? Close this page; nothing happens without the button.</p>`,
  );

/** Why a link cannot sign anyone in, in words for the person holding it. */
export const failurePage = (title: string, detail: string, appUrl: string) =>
  layout(title, `<h1>${esc(title)}</h1><p>${esc(detail)}</p><p><a href="${esc(appUrl)}">Back to Handoff</a></p>`);

export const sendPage = (reply: FastifyReply, status: number, html: string) =>
  reply.code(status).headers(SIGN_IN_HEADERS).type('text/html; charset=utf-8').send(html);
