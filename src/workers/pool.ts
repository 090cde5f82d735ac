import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { splitEvenly } from '../base/split-evenly.js';

/**
 * A fixed set of worker threads running one script, fed in batches: `run(items)` splits the items
 * into one chunk per worker (one message each way per chunk, so the cost of crossing threads is paid
 * per batch, not per item) and returns the results in order. Workers start on first use and are
 * referenced only while they have work, so an idle pool never keeps the process alive.
 */
export interface WorkerPool<In, Out> {
  /** `context` goes with every chunk unchanged (what the items have in common, e.g. the key to sign with). */
  run(items: In[], context?: unknown): Promise<Out[]>;
  /**
   * Whether `count` items are better done on the calling thread: fewer than the pool's `inlineBelow`,
   * while its threads are not running yet (a lone request should not pay for starting them). Once they
   * run, small batches go to them too and keep the calling thread free — unless the pool is made with
   * `inlineSmallAlways`, for work that costs about what handing it over does.
   */
  inline(count: number): boolean;
  close(): Promise<void>;
}

interface Pending {
  resolve(results: unknown): void;
  reject(error: Error): void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
  load: number;
}

/** What a worker script answers: results in order (as its codec encoded them), or an error that fails the whole chunk. */
export type WorkerReply = { id: number; results: unknown } | { id: number; error: { message: string; code?: string } };

/** How a chunk and its results cross the thread boundary; by default they are structured-cloned as they are. */
export interface WorkerCodec<In, Out> {
  encode(items: In[]): { payload: unknown; transfer: ArrayBuffer[] };
  decodeResults(payload: unknown): Out[];
}
export type WorkerMessage = { id: number; payload: unknown; context: unknown };

const asIs: WorkerCodec<never, never> = { encode: (items) => ({ payload: items, transfer: [] }), decodeResults: (payload) => payload as never[] };

export const defaultWorkerCount = () => Math.max(1, Math.min(availableParallelism(), 8));

export function createWorkerPool<In, Out>(options: {
  script: URL;
  size?: number;
  workerData?: unknown;
  name: string;
  codec?: WorkerCodec<In, Out>;
  inlineBelow?: number;
  inlineSmallAlways?: boolean;
}): WorkerPool<In, Out> {
  const size = options.size ?? defaultWorkerCount();
  const codec = (options.codec ?? asIs) as WorkerCodec<In, Out>;
  const slots: Slot[] = [];
  let nextId = 1;
  let closed = false;

  function start(): void {
    for (let i = slots.length; i < size; i++) {
      const worker = new Worker(options.script, { workerData: options.workerData, name: `${options.name}-${i}` });
      const slot: Slot = { worker, pending: new Map(), load: 0 };
      worker.unref();
      worker.on('message', (reply: WorkerReply) => {
        const pending = slot.pending.get(reply.id);
        if (!pending) return;
        slot.pending.delete(reply.id);
        if (slot.pending.size === 0) worker.unref();
        if ('error' in reply) pending.reject(Object.assign(new Error(reply.error.message), { code: reply.error.code }));
        else pending.resolve(reply.results);
      });
      const fail = (error: Error) => {
        for (const pending of slot.pending.values()) pending.reject(error);
        slot.pending.clear();
        const index = slots.indexOf(slot);
        if (index >= 0) slots.splice(index, 1); // a dead worker is replaced on the next run
      };
      worker.on('error', fail);
      worker.on('exit', (code) => fail(new Error(`${options.name} worker exited (code ${code})`)));
      slots.push(slot);
    }
  }

  function send(slot: Slot, items: In[], context: unknown): Promise<Out[]> {
    const id = nextId++;
    const { payload, transfer } = codec.encode(items);
    return new Promise<unknown>((resolve, reject) => {
      if (slot.pending.size === 0) slot.worker.ref();
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ id, payload, context } satisfies WorkerMessage, transfer);
    }).then((results) => codec.decodeResults(results));
  }

  return {
    inline: (count) => count < (options.inlineBelow ?? 0) && (slots.length === 0 || options.inlineSmallAlways === true),
    async run(items, context) {
      if (closed) throw new Error(`${options.name} pool is closed`);
      if (!items.length) return [];
      start();
      // Least-loaded workers first; one contiguous chunk each keeps the results in order.
      const ordered = [...slots].sort((a, b) => a.pending.size - b.pending.size);
      const parts = await Promise.all(splitEvenly(items, Math.min(slots.length, items.length)).map((chunk, i) => send(ordered[i]!, chunk, context)));
      return parts.length === 1 ? parts[0]! : parts.flat();
    },
    async close() {
      closed = true;
      // Node 20's terminate() can leave nothing referenced between the thread's stop and its 'exit'
      // event, and the process then ends with close() still pending, so whatever awaits it never runs
      // (test/worker-pool.test.ts saw it in about one run in twelve). A timer holds the loop meanwhile.
      const holdLoop = setInterval(() => {}, 1000);
      try {
        await Promise.all(slots.splice(0).map((s) => s.worker.terminate()));
      } finally {
        clearInterval(holdLoop);
      }
    },
  };
}
