import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { SessionView } from '#shared/contracts/auth';
import { MAX_ATTENDEES } from '#shared/contracts/orders';
import { toProblem } from '#shared/http/errors';
import { HttpProblem, PROBLEMS } from '#shared/http/problems';
import type { AuthClient } from '../auth-client.ts';
import type { MagicLinkRequests } from '../magic-links.ts';
import { publicView, type OrderActions } from '../order-actions.ts';
import { BUYER_CSS } from '../page/buyer-css.ts';
import { checkInboxPage, homePage, orderPage, problemPage, signInPage, type OrderForm, type Page } from '../page/buyer-pages.ts';
import { layout, sendHtml, type AssetUrls } from '../page/html.ts';
import { originVerdict } from '../same-origin.ts';
import { SESSION_COOKIE, sessionCookieOptions } from '../session.ts';
import { FINAL_STATUSES } from './order-events.ts';

export interface PageRoutesDeps {
  auth: Pick<AuthClient, 'getSession' | 'endSession'>;
  magicLinks: MagicLinkRequests;
  /** Absent in tests of other routes: the signed-in pages then say orders are unavailable. */
  orders?: OrderActions | undefined;
  config: {
    publicUrl: string;
    /** The payment provider's hosted checkout. */
    checkoutUrl: string;
    secureCookies: boolean;
  };
}

const asset = (body: string | Buffer, type: string, name: string) => {
  const digest = createHash('sha256').update(body).digest('hex').slice(0, 12);
  return { url: `/assets/${name}-${digest}.${type === 'text/css' ? 'css' : 'js'}`, body, type };
};
const SCRIPT = asset(readFileSync(new URL('../page/assets/buyer.js', import.meta.url)), 'text/javascript', 'buyer');
const STYLES = asset(BUYER_CSS, 'text/css', 'buyer');
const ASSETS: AssetUrls = { css: STYLES.url, js: SCRIPT.url };

const OrderParams = z.object({ id: z.string().min(1).max(100) });
const HomeQuery = z.object({ cursor: z.string().min(1).max(200).optional() });
const NEW_FORM: OrderForm = { event: '', attendees: [''] };

type FormBody = Record<string, string[]>;
/** A form field's values; anything but our form parser's lists (a JSON body) counts as empty. */
const values = (body: unknown, name: string): string[] => {
  const list = (body as Partial<FormBody> | undefined)?.[name];
  return Array.isArray(list) ? list.map(String) : [];
};
const field = (body: unknown, name: string) => values(body, name)[0] ?? '';

/** A problem in words for the person in front of the page. */
const wording = (problem: HttpProblem) => problem.detail ?? PROBLEMS[problem.code].title;

/**
 * The buyer page: `/` (sign in, or the order form and the user's orders), `/my/orders/:id` (one
 * order, live with script), and the form posts behind them. Forms post here, never to the JSON
 * API, so everything works without script; each answer is a page, a problem in words on it, or a
 * redirect (post/redirect/get). Form posts must come from our own pages (same-origin).
 */
export const registerPageRoutes = (app: FastifyInstance, deps: PageRoutesDeps) => {
  const publicOrigin = new URL(deps.config.publicUrl).origin;
  const page = (reply: FastifyReply, status: number, content: Page, user?: SessionView['user']) =>
    sendHtml(reply, status, layout({ ...content, assets: ASSETS, signedInAs: user?.email }));

  /** The session behind the cookie, if any; a dead cookie is cleared. Auth being down is a problem. */
  const sessionFrom = async (request: FastifyRequest, reply: FastifyReply): Promise<SessionView | undefined> => {
    const sessionId = request.cookies[SESSION_COOKIE];
    if (!sessionId) return undefined;
    let result;
    try {
      result = await deps.auth.getSession(sessionId);
    } catch (error) {
      throw new HttpProblem('service_unavailable', `Signing in is unavailable right now; try again in a moment (${errorText(error)}).`);
    }
    if (result.ok) return result.session;
    reply.clearCookie(SESSION_COOKIE, sessionCookieOptions(deps.config.secureCookies));
    return undefined;
  };

  const checkoutUrl = (order: { id: string; amount: number; currency: string; event: string }) => {
    const url = new URL(deps.config.checkoutUrl);
    url.searchParams.set('order', order.id);
    url.searchParams.set('amount', String(order.amount));
    url.searchParams.set('currency', order.currency);
    url.searchParams.set('description', order.event);
    url.searchParams.set('return', `${publicOrigin}/my/orders/${order.id}`);
    return url.toString();
  };

  const home = async (reply: FastifyReply, session: SessionView, options: { form?: OrderForm; problem?: HttpProblem; cursor?: string | undefined }) => {
    let orders;
    let ordersProblem: string | undefined;
    try {
      if (!deps.orders) throw new HttpProblem('service_unavailable', 'Orders are unavailable here.');
      orders = await deps.orders.list(session.user.id, { limit: 20, cursor: options.cursor });
    } catch (error) {
      ordersProblem = `Your orders cannot be shown right now: ${wording(toProblem(error))}`;
    }
    const status = options.problem ? PROBLEMS[options.problem.code].status : 200;
    return page(
      reply,
      status,
      homePage({
        form: options.form ?? NEW_FORM,
        formProblem: options.problem && wording(options.problem),
        orders: orders?.orders.map(publicView),
        ordersProblem,
        nextCursor: orders?.nextCursor ?? null,
      }),
      session.user,
    );
  };

  // Every answer in this scope is a page (a problem too); form posts are parsed here only, and
  // repeated fields (attendees) stay lists.
  void app.register(async (pages) => {
    pages.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
      const parsed: FormBody = {};
      for (const [key, value] of new URLSearchParams(String(body))) (parsed[key] ??= []).push(value);
      done(null, parsed);
    });
    pages.addHook('preHandler', async (request) => {
      if (request.method !== 'POST') return;
      const verdict = originVerdict(request.headers, [publicOrigin, `${request.protocol}://${request.host}`]);
      if (verdict !== 'same') throw new HttpProblem('cross_origin', 'Use the forms on this site.');
    });
    pages.setErrorHandler(async (error, _request, reply) => {
      const problem = toProblem(error);
      return page(reply, PROBLEMS[problem.code].status, problemPage('That did not work', wording(problem)));
    });

    const immutable = (reply: FastifyReply, asset: { type: string; body: string | Buffer }) =>
      reply.type(`${asset.type}; charset=utf-8`).header('cache-control', 'public, max-age=31536000, immutable').send(asset.body);
    pages.get(STYLES.url, async (_request, reply) => immutable(reply, STYLES));
    pages.get(SCRIPT.url, async (_request, reply) => immutable(reply, SCRIPT));

    pages.get('/', async (request, reply) => {
      const session = await sessionFrom(request, reply);
      if (!session) return page(reply, 200, signInPage());
      const query = HomeQuery.safeParse(request.query);
      return home(reply, session, { cursor: query.success ? query.data.cursor : undefined });
    });

    pages.get('/my/orders/:id', async (request, reply) => {
      const session = await sessionFrom(request, reply);
      if (!session) return page(reply, 401, signInPage({ message: 'Sign in to see this order.' }));
      const params = OrderParams.safeParse(request.params);
      try {
        if (!params.success) throw new HttpProblem('not_found');
        if (!deps.orders) throw new HttpProblem('service_unavailable', 'Orders are unavailable here.');
        const order = publicView(await deps.orders.getOwn(session.user.id, params.data.id));
        return page(reply, 200, orderPage(order, { checkoutUrl: checkoutUrl(order), live: !FINAL_STATUSES.has(order.status) }), session.user);
      } catch (error) {
        const problem = toProblem(error);
        const title = problem.code === 'not_found' ? 'No such order' : 'This order cannot be shown right now';
        return page(reply, PROBLEMS[problem.code].status, problemPage(title, wording(problem)), session.user);
      }
    });

    pages.post('/sign-in', { bodyLimit: 2_048 }, async (request, reply) => {
      const email = field(request.body, 'email').trim();
      try {
        await deps.magicLinks.request({ email }, request.ip);
      } catch (error) {
        const problem = toProblem(error);
        const text = problem.code === 'invalid_request' ? 'Enter a valid email address.' : wording(problem);
        return page(reply, PROBLEMS[problem.code].status, signInPage({ message: text, email }));
      }
      return page(reply, 200, checkInboxPage(email));
    });

    pages.post('/sign-out', async (request, reply) => {
      const sessionId = request.cookies[SESSION_COOKIE];
      if (sessionId) await deps.auth.endSession(sessionId).catch(() => undefined);
      reply.clearCookie(SESSION_COOKIE, sessionCookieOptions(deps.config.secureCookies));
      return reply.redirect('/', 303);
    });

    // Up to 100 names of 200 characters, percent-encoded.
    pages.post('/my/orders', { bodyLimit: 256 * 1024 }, async (request, reply) => {
      const session = await sessionFrom(request, reply);
      if (!session) return page(reply, 401, signInPage({ message: 'Your session has ended: sign in again, then place the order.' }));
      const attendees = values(request.body, 'attendee');
      const form: OrderForm = { event: field(request.body, 'event'), attendees: attendees.length ? attendees : [''] };
      const op = field(request.body, 'op') || 'order';
      if (op === 'add') {
        if (form.attendees.length >= MAX_ATTENDEES) return home(reply, session, { form, problem: new HttpProblem('invalid_request', `At most ${MAX_ATTENDEES} attendees per order.`) });
        return home(reply, session, { form: { ...form, attendees: [...form.attendees, ''] } });
      }
      const remove = /^remove:(\d+)$/.exec(op);
      if (remove) {
        const attendees = form.attendees.filter((_, i) => i !== Number(remove[1]));
        return home(reply, session, { form: { ...form, attendees: attendees.length ? attendees : [''] } });
      }
      const problem = formProblem(form);
      if (problem) return home(reply, session, { form, problem });
      try {
        if (!deps.orders) throw new HttpProblem('service_unavailable', 'Orders are unavailable here.');
        const order = await deps.orders.create(session.user, { event: form.event, attendees: form.attendees.map((name) => ({ name })) });
        return reply.redirect(`/my/orders/${order.id}`, 303);
      } catch (error) {
        return home(reply, session, { form, problem: toProblem(error) });
      }
    });
  });
};

/** The form's own faults, in the words of the form (the API's checks still run after these). */
const formProblem = (form: OrderForm): HttpProblem | undefined => {
  if (!form.event.trim()) return new HttpProblem('invalid_request', 'Name the event.');
  if (form.event.trim().length > 200) return new HttpProblem('invalid_request', 'The event name is longer than 200 characters.');
  if (form.attendees.length > MAX_ATTENDEES) return new HttpProblem('invalid_request', `At most ${MAX_ATTENDEES} attendees per order.`);
  const blank = form.attendees.findIndex((name) => !name.trim());
  if (blank >= 0) return new HttpProblem('invalid_request', `Attendee ${blank + 1} needs a name (or remove the row).`);
  const long = form.attendees.findIndex((name) => name.trim().length > 200);
  if (long >= 0) return new HttpProblem('invalid_request', `The name of attendee ${long + 1} is longer than 200 characters.`);
  return undefined;
};

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));
