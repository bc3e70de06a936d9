import { JOBS } from '#shared/contracts/jobs';

/** One life of a worker slot: the process started after the previous one was killed. */
export interface Incarnation {
  worker: string;
  service: string;
  startedAt: number;
  /** When the chaos SIGKILLed it; undefined if it ran to the end. */
  killedAt: number | undefined;
  output(): string;
}

interface Line {
  time?: number;
  msg?: string;
  job?: string;
  jobId?: string;
  streamSeq?: number;
  attempt?: number;
  deliveries?: number;
  mailId?: string;
}

const linesOf = (incarnation: Incarnation): Line[] =>
  incarnation
    .output()
    .split('\n')
    .flatMap((text) => {
      if (!text.startsWith('{')) return [];
      try {
        return [JSON.parse(text) as Line];
      } catch {
        return [];
      }
    });

const mailIdOf = (messageId: string) => /^<([^@>]+)@/.exec(messageId)?.[1] ?? messageId;

/** Why a mail went out more than once, or that nothing explains it. */
export interface DuplicateExplanation {
  messageId: string;
  copies: number;
  /** Mailers killed while they held this mail's claim (claimed, no `mail sent` logged). */
  explainedBy: string[];
  /** Conversations that ended without the server's answer to the message: they explain nothing, they show why. */
  unknownOutcomes: string[];
  unexplained: number;
}

/**
 * A mail may go out twice only when the mailer that sent it died between the server's 250 and its
 * sent-record (its claim expired and another mailer sent again). Each such kill explains one
 * extra copy; the mailers' own logs say which mail each of them had claimed and sent. A
 * conversation that ended without the server's answer to the message is listed, not excused.
 */
export const explainDuplicates = (copiesByMessageId: Map<string, number>, incarnations: Incarnation[]): DuplicateExplanation[] => {
  const mailers = incarnations.filter((i) => i.service === 'mailer').map((i) => ({ incarnation: i, lines: linesOf(i) }));
  const out: DuplicateExplanation[] = [];
  for (const [messageId, copies] of copiesByMessageId) {
    if (copies < 2) continue;
    const mailId = mailIdOf(messageId);
    const explainedBy: string[] = [];
    const unknownOutcomes: string[] = [];
    for (const { incarnation, lines } of mailers) {
      const about = lines.filter((l) => l.mailId === mailId);
      const claimed = about.some((l) => l.msg === 'mail claimed; sending');
      const recorded = about.some((l) => l.msg === 'mail sent');
      if (incarnation.killedAt !== undefined && claimed && !recorded) explainedBy.push(`${incarnation.worker} killed at ${new Date(incarnation.killedAt).toISOString()} holding its claim`);
      for (const unknown of about.filter((l) => l.msg?.startsWith('SMTP outcome unknown'))) unknownOutcomes.push(`${incarnation.worker}: SMTP outcome unknown at ${new Date(unknown.time ?? 0).toISOString()}`);
    }
    out.push({ messageId, copies, explainedBy, unknownOutcomes, unexplained: Math.max(0, copies - 1 - explainedBy.length) });
  }
  return out;
};

const jobOfConsumer = new Map(JOBS.map((j) => [`${j.stream}/${j.consumer}`, j.name]));

/**
 * Everything the workers logged about one message (attempts started and ended, keep-alives that
 * came late, stale drops), newest last: which worker held it last, with its delivery count.
 */
export const followMessage = (incarnations: Incarnation[], stream: string, consumer: string, seq: number): string[] => {
  const job = jobOfConsumer.get(`${stream}/${consumer}`);
  const seen: Array<{ time: number; text: string }> = [];
  for (const incarnation of incarnations) {
    for (const l of linesOf(incarnation)) {
      if (l.job !== job || l.streamSeq !== seq) continue;
      const facts = [l.attempt !== undefined ? `attempt ${l.attempt}` : '', l.deliveries !== undefined ? `delivery ${l.deliveries}` : ''].filter(Boolean).join(', ');
      const life = incarnation.killedAt !== undefined ? ` (killed ${new Date(incarnation.killedAt).toISOString()})` : '';
      seen.push({ time: l.time ?? 0, text: `${new Date(l.time ?? 0).toISOString()} ${incarnation.worker}${life}: ${l.msg ?? ''}${facts ? ` [${facts}]` : ''}` });
    }
  }
  return seen.sort((a, b) => a.time - b.time).map((s) => s.text);
};
