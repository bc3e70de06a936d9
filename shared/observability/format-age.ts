/** 90061000 → `1d 1h`: the two largest units are enough to judge an age (CLI and dashboard). */
export const formatAge = (ms: number): string => {
  if (ms < 1_000) return `${Math.max(0, Math.round(ms))}ms`;
  const units: Array<[string, number]> = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1_000]];
  const parts: string[] = [];
  let rest = ms;
  for (const [name, size] of units) {
    if (rest >= size && parts.length < 2) {
      parts.push(`${Math.floor(rest / size)}${name}`);
      rest %= size;
    }
  }
  return parts.join(' ');
};
