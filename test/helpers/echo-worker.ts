import { serveWorker } from '../../src/workers/serve.js';

/** A worker for the pool's own tests: doubles each number, or fails the chunk on a negative one. */
serveWorker<number, number>('hm-echo', (items, context) =>
  items.map((n) => {
    if (n < 0) throw new Error(`negative: ${n}`);
    return n * 2 + ((context as { add?: number } | undefined)?.add ?? 0);
  }),
);
