/**
 * The committed nats-server configs of deploy/nats/, made runnable in a test: the accounts file is
 * inlined (startNatsServer writes one file into its own temp dir) and the passwords the configs
 * read from the environment are defined as config variables, one random password per user.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PASSWORD_VARIABLES, passwordVariable } from '../../deploy/nats/permissions.ts';

export const natsDir = fileURLToPath(new URL('../../deploy/nats/', import.meta.url));

export type Passwords = Record<string, string>;

/**
 * nats-server parses an environment variable's value as a config token, so a password starting
 * with a digit or `-` is read as a number (or fails): passwords are a letter, then letters and
 * digits — the rule the StatefulSet enforces too.
 */
export const randomPasswords = (): Passwords =>
  Object.fromEntries(PASSWORD_VARIABLES.map((v) => [v, `p${randomBytes(18).toString('hex')}`]));

export const passwordOf = (passwords: Passwords, user: string): string => {
  const value = passwords[passwordVariable(user)];
  if (!value) throw new Error(`no password for ${user}`);
  return value;
};

const defineVariables = (passwords: Passwords) =>
  Object.entries(passwords)
    .map(([name, value]) => `${name}: ${JSON.stringify(value)}`)
    .join('\n');

/** A committed config with its include inlined and the given lines replaced (ports, paths). */
export const loadConfig = (file: 'server.conf' | 'cluster.conf', replace: Array<[RegExp, string]> = []): string => {
  let text = readFileSync(`${natsDir}${file}`, 'utf8').replace(/^include \.\/accounts\.conf$/m, () =>
    readFileSync(`${natsDir}accounts.conf`, 'utf8'),
  );
  for (const [pattern, value] of replace) {
    if (!pattern.test(text)) throw new Error(`${file} has no line matching ${pattern}`);
    text = text.replace(pattern, value);
  }
  return text;
};

/**
 * deploy/nats/server.conf as a test server runs it: startNatsServer chooses the port and store, and
 * the monitoring port is made random so parallel test files never collide.
 */
export const singleServerConfig = (passwords: Passwords): string =>
  `${defineVariables(passwords)}\n${loadConfig('server.conf', [[/^http_port: .*$/m, 'http_port: -1']])}`;

export { defineVariables };
