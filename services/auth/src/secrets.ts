import { createHash, randomBytes } from 'node:crypto';

/** 256 bits from the OS CSPRNG, URL-safe: magic-link tokens and session ids. */
export const randomSecret = (): string => randomBytes(32).toString('base64url');

/** What is stored instead of a secret: a leaked bucket gives nobody a working link or session. */
export const sha256Hex = (value: string): string => createHash('sha256').update(value).digest('hex');
