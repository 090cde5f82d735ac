/** Batches of fewer signatures than this may be signed on the calling thread (store.ts, signHere). */
export const IN_LINE_BELOW = 4;
/** Above this a signature on average, the token is too slow to be waited on in line. */
export const IN_LINE_LIMIT_US = 1000;
/** How long a token found slow is left to the signing threads before it is tried in line again. */
export const RETRY_AFTER_MS = 60_000;

/** How many recent in-line batches the gauge remembers. */
const REMEMBERED = 16;

/**
 * Whether a token signs fast enough for the calling thread to wait on it, judged by the fastest of the
 * last REMEMBERED in-line batches: a busy machine makes some of them slow (the thread was preempted
 * while it waited), but only a slow token makes all of them slow. Handing a batch of one to the signing
 * threads costs ~0.35 ms of CPU beside the signature (docs/issuance-performance.md, "Scale-out: what a
 * batch costs"), more than SoftHSM takes to sign; a network HSM that takes milliseconds must not hold
 * the event loop, so once found slow it is tried in line again only after RETRY_AFTER_MS, to notice
 * that it became fast. The first in-line batch is the first measurement.
 */
export function createSpeedGauge(now: () => number = Date.now) {
  const recent: number[] = [];
  let lastTried = 0;
  return {
    fast(): boolean {
      return !recent.length || Math.min(...recent) <= IN_LINE_LIMIT_US || now() - lastTried >= RETRY_AFTER_MS;
    },
    /** One in-line batch took `us` microseconds a signature. */
    took(us: number): void {
      lastTried = now();
      recent.push(us);
      if (recent.length > REMEMBERED) recent.shift();
    },
  };
}
