import fs from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { WorkerMessage, WorkerReply } from './pool.js';

/** The worker side of a codec (see WorkerCodec in pool.ts); by default messages are used as they come. */
export interface WorkerSideCodec<In, Out> {
  decode(payload: unknown): In[];
  encodeResults(results: Out[]): { payload: unknown; transfer: ArrayBuffer[] };
}
const asIs: WorkerSideCodec<never, never> = { decode: (payload) => payload as never[], encodeResults: (results) => ({ payload: results, transfer: [] }) };

/** The worker side of a pool: answers each chunk with the handler's results, in order. */
export function serveWorker<In, Out>(threadName: string, handle: (items: In[], context: unknown) => Out[], codec?: WorkerSideCodec<In, Out>): void {
  nameThisThread(threadName);
  const { decode, encodeResults } = (codec ?? asIs) as WorkerSideCodec<In, Out>;
  parentPort!.on('message', ({ id, payload, context }: WorkerMessage) => {
    let reply: WorkerReply;
    let transfer: ArrayBuffer[] = [];
    try {
      const encoded = encodeResults(handle(decode(payload), context));
      reply = { id, results: encoded.payload };
      transfer = encoded.transfer;
    } catch (e) {
      reply = { id, error: { message: (e as Error).message, code: (e as { code?: string }).code } };
    }
    parentPort!.postMessage(reply, transfer);
  });
}

/**
 * The worker's OS thread gets a name of its own (Linux: a synchronous write runs on the calling thread,
 * and /proc/thread-self is that thread; at most 15 bytes), so that `top -H`, `ps -L` and the benches'
 * CPU by thread tell the workers from V8's and libuv's threads, which are all "node". Elsewhere it
 * stays unnamed.
 */
function nameThisThread(name: string): void {
  try {
    fs.writeFileSync('/proc/thread-self/comm', name.slice(0, 15));
  } catch {
    // not Linux, or /proc not mounted: only the name is lost
  }
}
