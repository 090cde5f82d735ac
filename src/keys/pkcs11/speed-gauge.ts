/** Batches of fewer signatures than this may be signed on the calling thread (store.ts, signHere). */
export const IN_LINE_BELOW = 4;
/** Above this a signature on average, the token is too slow to be waited on in line. */
export const IN_LINE_LIMIT_US = 1000;
/** How long a token found slow is left to the signing threads before it is tried in line again. */
export const RETRY_AFTER_MS = 60_000;

/**
 * Whether a token signs fast enough for the calling thread to wait on it: a moving average of what
 * in-line signatures took. Handing a batch of one to the signing threads costs ~0.35 ms of CPU beside
 * the signature (docs/issuance-performance.md, "Scale-out"), more than SoftHSM takes to sign; a network
 * HSM that takes milliseconds must not hold the event loop, so once found slow it is tried in line
 * again only after RETRY_AFTER_MS, to notice that it became fast. The first in-line batch measures.
 */
export function createSpeedGauge(now: () => number = Date.now) {
  let averageUs = 0;
  let lastTried = 0;
  return {
    fast(): boolean {
      return averageUs <= IN_LINE_LIMIT_US || now() - lastTried >= RETRY_AFTER_MS;
    },
    /** One in-line batch took `us` microseconds a signature. */
    took(us: number): void {
      lastTried = now();
      averageUs = averageUs === 0 ? us : averageUs * 0.9 + us * 0.1;
    },
  };
}
