import { parentPort } from 'node:worker_threads';
import type { WorkerReply } from './pool.js';

/** The worker side of a pool: answers each chunk with the handler's results, in order. */
export function serveWorker<In, Out>(handle: (items: In[]) => Out[]): void {
  parentPort!.on('message', ({ id, items }: { id: number; items: In[] }) => {
    let reply: WorkerReply;
    try {
      reply = { id, results: handle(items) };
    } catch (e) {
      reply = { id, error: { message: (e as Error).message, code: (e as { code?: string }).code } };
    }
    parentPort!.postMessage(reply);
  });
}
