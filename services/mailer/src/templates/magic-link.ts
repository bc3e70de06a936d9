import { escapeHtml, layout } from './html.ts';

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

export interface MagicLinkView {
  link: string;
  name?: string;
  expiresAt: string;
}

const expiryText = (expiresAt: string) => new Date(expiresAt).toUTCString();

export const renderMagicLink = (view: MagicLinkView): RenderedMail => {
  const greeting = view.name ? `Hello ${view.name},` : 'Hello,';
  const subject = 'Your sign-in link for Handoff';
  const text = `${greeting}

Use this link to sign in to Handoff:

${view.link}

It works once and expires at ${expiryText(view.expiresAt)}.
If you did not ask to sign in, ignore this email: nobody can sign in without the link.
`;
  const html = layout(
    subject,
    `<p>${escapeHtml(greeting)}</p>
<p>Use this button to sign in to Handoff:</p>
<p><a href="${escapeHtml(view.link)}" style="display:inline-block;padding:12px 20px;background:#2454d6;color:#fff;text-decoration:none;border-radius:6px">Sign in</a></p>
<p style="font-size:13px;color:#555">Or paste this link into your browser:<br><a href="${escapeHtml(view.link)}">${escapeHtml(view.link)}</a></p>
<p style="font-size:13px;color:#555">It works once and expires at ${escapeHtml(expiryText(view.expiresAt))}. If you did not ask to sign in, ignore this email.</p>`,
  );
  return { subject, text, html };
};
