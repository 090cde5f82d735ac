import { parentPort } from 'node:worker_threads';
import type { WorkerMessage, WorkerReply } from './pool.js';

/** The worker side of a codec (see WorkerCodec in pool.ts); by default messages are used as they come. */
export interface WorkerSideCodec<In, Out> {
  decode(payload: unknown): In[];
  encodeResults(results: Out[]): { payload: unknown; transfer: ArrayBuffer[] };
}
const asIs: WorkerSideCodec<never, never> = { decode: (payload) => payload as never[], encodeResults: (results) => ({ payload: results, transfer: [] }) };

/** The worker side of a pool: answers each chunk with the handler's results, in order. */
export function serveWorker<In, Out>(handle: (items: In[], context: unknown) => Out[], codec?: WorkerSideCodec<In, Out>): void {
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
