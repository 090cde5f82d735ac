import { HallmarkError } from '../base/errors.js';

export const usageError = (message: string) => new HallmarkError('usage', message, 2);

/** "90d", "12h", "30m", "3600s" → milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+)([smhdw])$/.exec(text.trim());
  if (!m) throw usageError(`cannot read duration "${text}": write e.g. 30m, 12h, 90d or 2w`);
  const unit = { s: 1e3, m: 6e4, h: 3.6e6, d: 8.64e7, w: 6.048e8 }[m[2] as 's' | 'm' | 'h' | 'd' | 'w'];
  return Number(m[1]) * unit;
}

/** `--limit`: how many rows a listing shows (newest first); 1000 unless asked, at most 100,000. */
export function parseLimit(text: string | undefined, fallback = 1000): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 100_000) throw usageError(`--limit takes a whole number from 1 to 100000, got "${text}"`);
  return n;
}
