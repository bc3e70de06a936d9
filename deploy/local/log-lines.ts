import { prettyFactory } from 'pino-pretty';

/**
 * How `npm start` shows its services' logs. On a terminal: one coloured line per event, for
 * people (pino-pretty), with the service's name in front. Otherwise (a pipe, a file, CI): the
 * services' JSON lines untouched, each still prefixed with its service, for machines.
 * LOG_FORMAT=pretty|json overrides the guess.
 */
export type LogFormat = 'pretty' | 'json';

export const chooseLogFormat = (setting: string | undefined, isTty: boolean): LogFormat =>
  setting === 'pretty' || setting === 'json' ? setting : isTty ? 'pretty' : 'json';

/** Turns one line a service wrote into the line `npm start` prints (without the newline). */
export const createLineFormatter = (format: LogFormat, options: { colors?: boolean } = {}) => {
  const pretty =
    format === 'pretty'
      ? prettyFactory({
          colorize: options.colors ?? true,
          singleLine: true,
          translateTime: 'SYS:HH:MM:ss.l',
          // The prefix names the service; trace ids stay in the JSON format, where tools read them.
          ignore: 'pid,hostname,service,trace_id,span_id,trace_flags',
        })
      : undefined;
  return (service: string, line: string): string => {
    const prefix = `[${service.padEnd(14)}]`;
    if (!pretty || !line.startsWith('{')) return `${prefix} ${line}`;
    try {
      return `${prefix} ${pretty(JSON.parse(line) as object).trimEnd()}`;
    } catch {
      // Not a log event after all (a stray line of output): as it came.
      return `${prefix} ${line}`;
    }
  };
};
