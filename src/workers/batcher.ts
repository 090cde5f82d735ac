/**
 * Collects single requests made in the same turn of the event loop and hands them over as one batch
 * (group commit): 32 concurrent enrollments cost one database transaction and one trip to the
 * signing workers instead of 32. A lone request waits one setImmediate, no more. At most
 * `concurrency` batches are in flight (so one can be signed while the next is recorded); requests
 * arriving meanwhile gather into the next batch, which is how batches grow with load.
 */
export interface Batcher<In, Out> {
  submit(item: In): Promise<Out>;
}

export function createBatcher<In, Out>(flush: (items: In[]) => Promise<(Out | Error)[]>, options: { maxBatch?: number; concurrency?: number } = {}): Batcher<In, Out> {
  const maxBatch = options.maxBatch ?? 1000;
  const concurrency = options.concurrency ?? 2;
  const queue: { item: In; resolve(value: Out): void; reject(error: unknown): void }[] = [];
  let scheduled = false;
  let inFlight = 0;

  function pump(): void {
    while (queue.length && inFlight < concurrency) {
      const batch = queue.splice(0, maxBatch);
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
