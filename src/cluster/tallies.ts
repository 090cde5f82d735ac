import type { Worker } from 'node:cluster';
import type { AlertSink } from '../alerts/sink.js';
import { createTallyRules, type Tally } from '../alerts/tallies.js';
import type { ClusterMessage } from './worker.js';

/**
 * The anomaly rules (alerts/tallies.ts) counted for the whole of `serve --workers`: each worker sends
 * its counts to the primary, which runs the rules (in its own clock) and hands an alert back to the
 * worker whose count crossed the threshold, which raises it (log, audit log, webhook) as one instance would.
 */
export function joinClusterTallies(alerts: AlertSink): Tally {
  process.on('message', (message: ClusterMessage) => {
    if (message?.type === 'hallmark:alert') alerts.raise(message.alert);
  });
  return (spec, key, count) => {
    const message: ClusterMessage = { type: 'hallmark:tally', spec, key, count };
    process.send?.(message);
  };
}

export function createTallyRelay() {
  const rules = createTallyRules();
  return (from: Worker, message: Extract<ClusterMessage, { type: 'hallmark:tally' }>): void => {
    const alert = rules.run(message.spec, message.key, message.count, Date.now());
    if (alert && from.isConnected()) from.send({ type: 'hallmark:alert', alert } satisfies ClusterMessage);
  };
}
