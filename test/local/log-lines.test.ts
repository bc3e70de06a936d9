import { expect, test } from 'vitest';
import { chooseLogFormat, createLineFormatter } from '../../deploy/local/log-lines.ts';

// npm start's log lines: pretty for people on a terminal, JSON for machines otherwise.
const line = JSON.stringify({ level: 40, time: Date.UTC(2026, 0, 2, 3, 4, 5, 6), pid: 7, hostname: 'h', service: 'mailer', trace_id: 'abc', span_id: 'def', msg: 'smtp refused', attempt: 2 });

test('a terminal gets pretty lines, anything else JSON; LOG_FORMAT overrides the guess', () => {
  expect(chooseLogFormat(undefined, true)).toBe('pretty');
  expect(chooseLogFormat(undefined, false)).toBe('json');
  expect(chooseLogFormat('json', true)).toBe('json');
  expect(chooseLogFormat('pretty', false)).toBe('pretty');
});

test('pretty: one coloured line per event, the service in front, level and message in words, ids left to the JSON format', () => {
  const out = createLineFormatter('pretty')('mailer', line);
  expect(out.split('\n')).toHaveLength(1);
  expect(out.startsWith('[mailer        ] ')).toBe(true);
  expect(out).toContain('\u001b[');
  const plain = createLineFormatter('pretty', { colors: false })('mailer', line);
  expect(plain).toMatch(/^\[mailer +\] \[\d\d:\d\d:\d\d\.\d{3}\] WARN: smtp refused \{"attempt":2\}$/);
  expect(plain).not.toMatch(/trace_id|hostname|"pid"/);
  // A stray line that is not a log event passes as it came.
  expect(createLineFormatter('pretty', { colors: false })('gateway', '(node:1) Warning: something')).toBe('[gateway       ] (node:1) Warning: something');
});

test('json: the service\'s line untouched behind its prefix', () => {
  expect(createLineFormatter('json')('mailer', line)).toBe(`[mailer        ] ${line}`);
});
