/**
 * Counts events per key within a trailing window, in buckets of a thousandth of the window (an event
 * leaves the count up to one bucket late). Memory is bounded by the number of buckets, not events —
 * a station provisioning thousands of devices a minute stays a few kilobytes over a day — and each
 * event costs amortised O(1): times arrive in order, so expired buckets are dropped from the front.
 */
export function createSlidingWindow(windowMs: number) {
  const resolution = Math.max(1, Math.floor(windowMs / 1000));
  const events = new Map<string, { starts: number[]; counts: number[]; head: number; total: number }>();
  const prune = (key: string, now: number) => {
    const entry = events.get(key);
    if (!entry) return undefined;
    while (entry.head < entry.starts.length && entry.starts[entry.head]! + resolution - 1 <= now - windowMs) entry.total -= entry.counts[entry.head++]!;
    if (entry.total === 0) {
      events.delete(key);
      return undefined;
    }
    if (entry.head > 64 && entry.head * 2 > entry.starts.length) {
      entry.starts = entry.starts.slice(entry.head);
      entry.counts = entry.counts.slice(entry.head);
      entry.head = 0;
    }
    return entry;
  };
  return {
    /** Counts `count` events of `key` at `now`; the total within the window. */
    add(key: string, now: number, count = 1): number {
      let entry = prune(key, now);
      if (!entry) events.set(key, (entry = { starts: [], counts: [], head: 0, total: 0 }));
      const start = now - (now % resolution);
      const last = entry.starts.length - 1;
      if (last >= entry.head && entry.starts[last] === start) entry.counts[last]! += count;
      else {
        entry.starts.push(start);
        entry.counts.push(count);
      }
      return (entry.total += count);
    },
    count: (key: string, now: number) => prune(key, now)?.total ?? 0,
    reset: (key: string) => events.delete(key),
  };
}
