/**
 * Did a state-changing request come from one of our own pages? `same` and `cross` are what the
 * browser told us; `unknown` means it said nothing (a script, curl, a very old browser).
 *
 * `Sec-Fetch-Site` wins when present: browsers set it and pages cannot. `Origin` is compared
 * with our own origins; `Origin: null` proves nothing by itself (a page with
 * `Referrer-Policy: no-referrer`, which ours has, sends it on its own same-origin form posts, and
 * so does a sandboxed frame anywhere), so it counts only together with `Sec-Fetch-Site: same-origin`.
 */
export type OriginVerdict = 'same' | 'cross' | 'unknown';

export const originVerdict = (headers: { origin?: string | undefined; 'sec-fetch-site'?: string | string[] | undefined }, ownOrigins: readonly string[]): OriginVerdict => {
  const site = headers['sec-fetch-site'];
  const fetchSite = Array.isArray(site) ? site[0] : site;
  if (fetchSite !== undefined && fetchSite !== 'same-origin') return 'cross';
  const origin = headers.origin;
  if (origin !== undefined && origin !== 'null') return ownOrigins.includes(origin) ? 'same' : 'cross';
  return fetchSite === 'same-origin' ? 'same' : 'unknown';
};
