import type { Worker } from 'node:cluster';
import { createFailureCounter, createRelayedAuthFailureGuard, raiseAuthFailureAlert, type AuthFailureConfig, type AuthFailureGuard } from '../alerts/auth-failures.js';
import type { AlertSink } from '../alerts/sink.js';
import type { ClusterMessage } from './worker.js';

/**
 * Authentication failures counted across the workers of `serve --workers`. Counted by each worker, a
 * client spreading its guesses over connections (the primary hands connections to the workers in
 * turn) had the threshold once per worker before any block. Workers report each failure to the
 * primary, which counts them, decides the block and tells every worker; the worker whose report
 * crossed the threshold raises the alert (one alert, as from one instance). Reports cross in flight
 * with the block, so a burst may pass the threshold by the few failures of one message round trip.
 */

/** The worker's guard: reports to the primary, enforces the blocks it announces. */
export function joinClusterAuthFailures(config: AuthFailureConfig, alerts: AlertSink): AuthFailureGuard {
  const { guard, block } = createRelayedAuthFailureGuard((source) => {
    const message: ClusterMessage = { type: 'hallmark:auth-failure', source, config };
    process.send?.(message);
  });
  process.on('message', (message: ClusterMessage) => {
    if (message?.type !== 'hallmark:auth-blocked') return;
    block(message.source, message.until);
    if (message.raise) raiseAuthFailureAlert(alerts, config, message.source, message.failures);
  });
  return guard;
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
      const crossed = counter!.record(message.source, Date.now());
      if (!crossed) return;
      for (const worker of workers()) send(worker, { type: 'hallmark:auth-blocked', source: message.source, until: crossed.blockedUntil, failures: crossed.failures, raise: worker === from });
    },
    /** A worker (re)started: the blocks in force apply to it too. */
    ready(worker: Worker): void {
      for (const { source, until } of counter?.active(Date.now()) ?? []) send(worker, { type: 'hallmark:auth-blocked', source, until, failures: 0, raise: false });
    },
  };
}
