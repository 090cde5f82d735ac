import type { Worker } from 'node:cluster';
import { createFailureCounter, createRelayedAuthFailureGuard, raiseAuthFailureAlerts, type AuthFailureConfig, type AuthFailureGuard, type BlockRecord, type createBlockList } from '../alerts/auth-failures.js';
import type { AlertSink } from '../alerts/sink.js';
import type { ClusterMessage } from './worker.js';

/**
 * Authentication failures counted across the workers of `serve --workers`. Counted by each worker, a
 * client spreading its guesses over connections (the primary hands connections to the workers in
 * turn) had the threshold once per worker before any block. Workers report each failure to the
 * primary, which counts them, decides the blocks and tells every worker; the worker whose report
 * crossed a threshold raises the alert and records the block (one alert, one record, as from one
 * instance). Reports cross in flight with the block, so a burst may pass the threshold by the few
 * failures of one message round trip.
 */

/** The worker's guard: reports to the primary, enforces the blocks it announces. */
export function joinClusterAuthFailures(config: AuthFailureConfig, alerts: AlertSink, record?: BlockRecord): { guard: AuthFailureGuard; blocks: ReturnType<typeof createBlockList> } {
  const { guard, blocks } = createRelayedAuthFailureGuard((subject) => {
    const message: ClusterMessage = { type: 'hallmark:auth-failure', subject, config };
    process.send?.(message);
  });
  process.on('message', (message: ClusterMessage) => {
    if (message?.type !== 'hallmark:auth-blocked') return;
    for (const block of message.blocks) blocks.add(block);
    if (!message.crossing) return;
    for (const block of message.crossing.blocks) record?.save(block);
    raiseAuthFailureAlerts(alerts, config, message.crossing);
  });
  return { guard, blocks };
}

/** The primary's side: one count for the cluster (in the primary's clock). */
export function createAuthFailureRelay(workers: () => Iterable<Worker>) {
  let counter: ReturnType<typeof createFailureCounter> | undefined;
  let counting = '';
  const send = (worker: Worker, message: ClusterMessage) => {
    if (worker.isConnected()) worker.send(message);
  };
  return {
    /** A worker's report of a failure. */
    failure(from: Worker, message: Extract<ClusterMessage, { type: 'hallmark:auth-failure' }>): void {
      // The workers share one configuration; it travels with the reports since the primary reads none.
      const settings = JSON.stringify(message.config);
      if (settings !== counting) [counter, counting] = [createFailureCounter(message.config), settings];
      const crossing = counter!.record(message.subject, Date.now());
      if (!crossing.blocks.length && !crossing.distributed) return;
      for (const worker of workers()) send(worker, { type: 'hallmark:auth-blocked', blocks: crossing.blocks, crossing: worker === from ? crossing : undefined });
    },
    /** A worker (re)started: the blocks in force apply to it too. */
    ready(worker: Worker): void {
      const blocks = counter?.blocks.active(Date.now()) ?? [];
      if (blocks.length) send(worker, { type: 'hallmark:auth-blocked', blocks });
    },
  };
}
