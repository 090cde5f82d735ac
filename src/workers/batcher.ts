/**
 * Collects single requests made in the same turn of the event loop and hands them over as one batch
 * (group commit): 32 concurrent enrollments cost one database transaction and one trip to the
 * signing workers instead of 32. A lone request waits one setImmediate, no more. At most
 * `concurrency` batches are in flight (so one can be signed while the next is recorded); requests
 * arriving meanwhile gather into the next batch, which is how batches grow with load.
 *
 * `holdMs` (group commit's delay, as PostgreSQL's commit_delay): when a batch could start but fewer
 * requests wait than the last batch carried, it waits up to holdMs for that many. Under steady
 * concurrency the requests of the batch just answered are on their way back; without the hold, the
 * next batch starts with whatever is there, and the batches settle at about half the concurrent
 * requests each, alternating, each paying a batch's fixed cost (docs/issuance-performance.md,
 * "Scale-out: holding a batch open"). A lone request never waits: the last batch carried one.
 */
export interface Batcher<In, Out> {
  submit(item: In): Promise<Out>;
}

export function createBatcher<In, Out>(flush: (items: In[]) => Promise<(Out | Error)[]>, options: { maxBatch?: number; concurrency?: number; holdMs?: number } = {}): Batcher<In, Out> {
  const maxBatch = options.maxBatch ?? 1000;
  const concurrency = options.concurrency ?? 2;
  const holdMs = options.holdMs ?? 0;
  const queue: { item: In; resolve(value: Out): void; reject(error: unknown): void }[] = [];
  let scheduled = false;
  let inFlight = 0;
  let lastSize = 0;
  let hold: NodeJS.Timeout | undefined;
  let held = false;

  /** Whether the next batch waits for more (see holdMs); arms the timer that ends the wait. */
  function holding(): boolean {
    if (holdMs <= 0 || held || queue.length >= Math.min(lastSize, maxBatch)) return false;
    hold ??= setTimeout(() => {
      hold = undefined;
      held = true;
      pump();
    }, holdMs);
    return true;
  }

  function pump(): void {
    while (queue.length && inFlight < concurrency) {
      if (holding()) return;
      clearTimeout(hold);
      hold = undefined;
      held = false;
      const batch = queue.splice(0, maxBatch);
      lastSize = batch.length;
      inFlight++;
      Promise.resolve()
        .then(() => flush(batch.map((b) => b.item)))
        .then(
          (results) =>
            batch.forEach((b, i) => {
              const result = results[i];
              if (result instanceof Error) b.reject(result);
              else b.resolve(result as Out);
            }),
          (e) => batch.forEach((b) => b.reject(e)),
        )
        .finally(() => {
          inFlight--;
          pump();
        });
    }
  }

  return {
    submit(item) {
      return new Promise<Out>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(() => {
            scheduled = false;
            pump();
          });
        }
      });
    },
  };
}
