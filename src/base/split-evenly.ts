/**
 * `items` as `parts` contiguous slices, in order, whose sizes differ by one at most (so none is empty
 * while `parts` ≤ `items.length`): a batch shared among workers, or cut into trips of a bounded size.
 */
export function splitEvenly<T>(items: T[], parts: number): T[][] {
  const slices: T[][] = [];
  const base = Math.floor(items.length / parts);
  const longer = items.length % parts;
  for (let i = 0, start = 0; i < parts; i++) {
    const end = start + base + (i < longer ? 1 : 0);
    slices.push(items.slice(start, end));
    start = end;
  }
  return slices;
}
