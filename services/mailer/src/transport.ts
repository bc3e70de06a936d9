import nodemailer, { type SendMailOptions } from 'nodemailer';
import { SpanKind } from '@opentelemetry/api';
import { PermanentError } from '#shared/jobs/job';
import { withSpan } from '#shared/observability/tracing';

export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Full header value, `<id@domain>`: the mail id, so a resend is recognisable as the same mail. */
  messageId: string;
  attachments?: { filename: string; content: Buffer; contentType: string }[];
}

export interface MailTransport {
  /**
   * Resolves with the server's final reply once it accepted the message; throws classified errors.
   * `signal` (the job's timeout) aborts the SMTP conversation while nothing can have been
   * delivered yet. Once the message is being handed over (DATA), only the server's reply says
   * whether it was: the send then waits for that reply (up to the DATA timeout), so a timeout
   * racing the send does not turn an accepted mail into a retry that sends it again.
   */
  send(mail: OutgoingMail, signal?: AbortSignal): Promise<{ response: string }>;
  close(): void;
}

/**
 * The conversation ended after the message was handed over without the server's reply (a timeout,
 * a dropped connection): the mail may or may not have been accepted. Retryable, and logged apart,
 * because the retry may deliver it a second time.
 */
export class SmtpOutcomeUnknownError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SmtpOutcomeUnknownError';
  }
}

interface SmtpFailure extends Error {
  code?: string;
  responseCode?: number;
  response?: string;
}

/**
 * The provider's "slow down": 421 (service not available, closing), 454 (temporary failure, e.g.
 * SES throttling), any 4xx that speaks of rates, or a 5xx that says a rate limit was exceeded. Not
 * the job's fault: the mailer slows the lane down and the job waits without using an attempt.
 */
export class SmtpThrottledError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SmtpThrottledError';
  }
}

const THROTTLE_TEXT = /\brate\b|rate.?limit|too many|slow down|throttl/i;
// Some providers answer an exceeded rate with a 5xx; only words that cannot mean the message itself.
const THROTTLE_5XX = /rate.?limit|sending rate|throttl|too many (messages|mails|emails|connections|requests)/i;

const isThrottle = (failure: SmtpFailure): boolean => {
  const code = failure.responseCode;
  if (code === 421 || code === 454) return true;
  if (typeof code !== 'number') return false;
  const text = failure.response ?? failure.message;
  return code >= 400 && code < 500 ? THROTTLE_TEXT.test(text) : code >= 500 && THROTTLE_5XX.test(text);
};

/**
 * Retry or give up? A 5xx reply is the server's final word (unknown mailbox, policy rejection):
 * retrying only repeats it, so it becomes a PermanentError and the job is dead-lettered. 4xx
 * replies (greylisting, "try again later"), refused connections and timeouts are transient.
 */
export const classifySmtpError = (error: unknown, afterData = false): Error => {
  if (!(error instanceof Error)) return new Error(String(error));
  const failure = error as SmtpFailure;
  const summary = [failure.code, failure.responseCode, failure.response ?? failure.message].filter(Boolean).join(' ');
  if (isThrottle(failure)) return new SmtpThrottledError(`SMTP server asked to slow down: ${summary}`, { cause: error });
  if (typeof failure.responseCode === 'number' && failure.responseCode >= 500) {
    return new PermanentError(`SMTP rejected the message: ${summary}`, { cause: error });
  }
  if (afterData && typeof failure.responseCode !== 'number') {
    return new SmtpOutcomeUnknownError(`SMTP send ended without the server's reply to the message (will retry): ${summary}`, { cause: error });
  }
  return new Error(`SMTP send failed (will retry): ${summary}`, { cause: error });
};

/** The domain of `MAIL_FROM` (`Name <addr@domain>` or `addr@domain`), for Message-ID headers. */
export const senderDomain = (from: string): string => /@([^>\s]+)/.exec(from)?.[1] ?? 'localhost';

/**
 * Where one SMTP conversation is, from nodemailer's transaction log: once the client has sent
 * `DATA`, the message may reach the server, and aborting could no longer tell sent from unsent.
 * `onActivity` runs on every line the conversation logs (a command sent, a reply received).
 */
const conversationPhase = (onActivity: () => void) => {
  const phase = { data: false };
  const seen = () => onActivity();
  const logger = {
    trace: seen,
    info: seen,
    warn: seen,
    error: seen,
    fatal: seen,
    debug: (entry: { tnx?: string } | undefined, message: unknown) => {
      if (entry?.tnx === 'client' && typeof message === 'string' && /^DATA\b/i.test(message)) phase.data = true;
      onActivity();
    },
  };
  return { phase, logger };
};

/**
 * SMTP over nodemailer, one connection (and transporter) per message: a pooled connection would
 * outlive an outage in a broken state, magic links are not high-volume, and each conversation's
 * transaction log tells that send alone where it is.
 *
 * Two clocks: until the message is handed over, every reply must come within `timeoutMs` (and
 * the job's signal stops the conversation); from DATA on, only `dataTimeoutMs` of silence ends it,
 * because only the server's answer says whether the mail was sent.
 */
export const createSmtpTransport = (options: { url: string; from: string; timeoutMs: number; dataTimeoutMs?: number }): MailTransport => {
  // The URL carries host, port, credentials and TLS mode; timeouts come from our own config. They
  // must be given at creation: the SMTP transport copies its options then (setting them on the
  // mailer afterwards silently left nodemailer's 2- and 10-minute defaults in force).
  const dataTimeoutMs = Math.max(options.dataTimeoutMs ?? options.timeoutMs, options.timeoutMs);
  const timeouts = { connectionTimeout: options.timeoutMs, greetingTimeout: options.timeoutMs, socketTimeout: dataTimeoutMs };
  const smtpHost = new URL(options.url);
  const attributes = (mail: OutgoingMail) => ({
    'server.address': smtpHost.hostname,
    'server.port': Number(smtpHost.port || 25),
    'mail.attachments': mail.attachments?.length ?? 0,
  });
  const sendOne = async (mail: OutgoingMail, signal: AbortSignal | undefined) => {
    const conversation = new AbortController();
    const stop = () => conversation.abort(signal?.aborted ? signal.reason : new Error(`no SMTP reply within ${options.timeoutMs} ms`));
    // Before DATA: a silent server or the job's signal ends the conversation at once.
    let idle: NodeJS.Timeout | undefined;
    const { phase, logger } = conversationPhase(() => {
      clearTimeout(idle);
      if (!phase.data) idle = setTimeout(stop, options.timeoutMs);
    });
    const transporter = nodemailer.createTransport({ url: options.url, ...timeouts, transactionLog: true, logger }, { from: options.from });
    const onAbort = () => {
      if (!phase.data) stop();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();
    try {
      const info = await transporter.sendMail({
        from: options.from,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        messageId: mail.messageId,
        attachments: mail.attachments,
        signal: conversation.signal,
      } as SendMailOptions);
      return { response: String(info.response ?? '') };
    } catch (error) {
      throw classifySmtpError(error, phase.data);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      clearTimeout(idle);
      transporter.close();
    }
  };
  return {
    // Its own span: the SMTP conversation is where a mail job's time goes.
    send: (mail, signal) => withSpan('smtp send', attributes(mail), () => sendOne(mail, signal), { kind: SpanKind.CLIENT }),
    close: () => undefined,
  };
};
