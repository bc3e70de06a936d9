import type { FastifyReply } from 'fastify';

/** Every value put into a page goes through this. */
export const esc = (value: string | number): string => String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The buyer page's policy: its own stylesheet and script only (no inline code, no other origin),
 * fetches to itself (the live view), forms to itself, never framed. The payment provider is
 * reached by a link, which the policy does not restrict.
 */
export const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export const PAGE_HEADERS = {
  'cache-control': 'no-store',
  'content-security-policy': PAGE_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
} as const;

/** Asset URLs carry a digest of their content, so they can be cached for good. */
export interface AssetUrls {
  css: string;
  js: string;
}

export interface Layout {
  title: string;
  body: string;
  assets: AssetUrls;
  /** The signed-in user's email: shown with a sign-out button. */
  signedInAs?: string | undefined;
}

export const layout = (page: Layout) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(page.title)} · Handoff</title>
<link rel="stylesheet" href="${esc(page.assets.css)}">
<script type="module" src="${esc(page.assets.js)}"></script></head>
<body><header class="top"><div class="top-inner"><a class="brand" href="/">Handoff tickets</a>${
  page.signedInAs
    ? `<span class="who">Signed in as ${esc(page.signedInAs)}</span><form method="post" action="/sign-out"><button type="submit" class="link">Sign out</button></form>`
    : ''
}</div></header>
<main id="main">${page.body}</main></body></html>`;

/** A problem or a confirmation, in words, where a screen reader announces it. */
export const message = (text: string | undefined, kind: 'error' | 'info' = 'error') =>
  text ? `<p class="message ${kind}" role="${kind === 'error' ? 'alert' : 'status'}">${esc(text)}</p>` : '';

export const sendHtml = (reply: FastifyReply, status: number, html: string) =>
  reply.code(status).headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(html);

export const money = (amount: number, currency: string) => {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).format(amount / 100);
  } catch {
    return `${(amount / 100).toFixed(2)} ${currency}`;
  }
};
