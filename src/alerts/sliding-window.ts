/** Counts events per key within a trailing window; memory is bounded by pruning on every touch. */
export function createSlidingWindow(windowMs: number) {
  const events = new Map<string, number[]>();
  const prune = (key: string, now: number) => {
    const list = (events.get(key) ?? []).filter((t) => t > now - windowMs);
    if (list.length) events.set(key, list);
    else events.delete(key);
    return list;
  };
  return {
    add(key: string, now: number): number {
      const list = prune(key, now);
      list.push(now);
      events.set(key, list);
      return list.length;
    },
    count: (key: string, now: number) => prune(key, now).length,
    reset: (key: string) => events.delete(key),
  };
}
