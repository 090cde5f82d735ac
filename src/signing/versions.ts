/**
 * Release versions: one to four dot-separated numbers (1, 2.0, 10.4.1, 2026.12.6.1), compared number
 * by number with missing parts as zero, so 1.10 > 1.9 and 2.0 = 2. Versions that boot loaders and
 * rollback counters compare are numbers; anything else is refused rather than guessed at.
 */
export const VERSION = /^(0|[1-9][0-9]{0,8})(\.(0|[1-9][0-9]{0,8})){0,3}$/;

export function compareVersions(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d) return Math.sign(d);
  }
  return 0;
}
