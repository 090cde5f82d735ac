import cluster from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import { registry } from '../observability/metrics.js';
import type { AuthBlock, AuthFailureConfig, Crossing, FailureSubject } from '../alerts/auth-failures.js';
import type { TallySpec } from '../alerts/tallies.js';
import type { Alert } from '../alerts/sink.js';

/**
 * The worker's side of `hallmark serve --workers <n>` (see primary.ts): each worker is a whole
 * Hallmark instance on the shared listeners, told its slot by the primary.
 */

/** Messages between the primary and its workers. */
export type ClusterMessage =
  | { type: 'hallmark:ready'; https: number; http: number; tlsNotAfter: string }
  | { type: 'hallmark:metrics-request'; id: number }
  | { type: 'hallmark:metrics'; id: number; text?: string; error?: string }
  | { type: 'hallmark:auth-failure'; subject: FailureSubject; config: AuthFailureConfig }
  /** Blocks decided by the primary; `crossing` only to the worker whose report crossed (it alerts and records). */
  | { type: 'hallmark:auth-blocked'; blocks: AuthBlock[]; crossing?: Crossing }
  | { type: 'hallmark:tally'; spec: TallySpec; key: string; count: number }
  | { type: 'hallmark:alert'; alert: Alert };

export const SLOT_VARIABLE = 'HALLMARK_WORKER_SLOT';

/** This process's slot (1…n) when it is a worker of `serve --workers`, else undefined. */
export function workerSlot(): number | undefined {
  if (!cluster.isWorker) return undefined;
  const slot = Number(process.env[SLOT_VARIABLE]);
  return Number.isInteger(slot) && slot > 0 ? slot : undefined;
}

export function announceReady(ready: { https: number; http: number; tlsNotAfter: Date }): void {
  const message: ClusterMessage = { type: 'hallmark:ready', https: ready.https, http: ready.http, tlsNotAfter: ready.tlsNotAfter.toISOString() };
  process.send?.(message);
}

let nextRequest = 0;
const waiting = new Map<number, { resolve(text: string): void; reject(error: Error): void }>();

/**
 * Joins the cluster's metrics at start: prom-client answers the primary's requests for this worker's
 * registry, and the answers to this worker's own requests (clusterMetricsText) are routed back here.
 */
export function joinClusterMetrics(): void {
  AggregatorRegistry.setRegistries([registry]);
  // Constructing one installs prom-client's listener for the primary's requests.
  new AggregatorRegistry();
  process.on('message', (message: ClusterMessage) => {
    if (message?.type !== 'hallmark:metrics') return;
    const request = waiting.get(message.id);
    waiting.delete(message.id);
    if (message.error !== undefined) request?.reject(new Error(`cluster metrics: ${message.error}`));
    else request?.resolve(message.text ?? '');
  });
}

/**
 * /metrics for the whole cluster: the worker that got the scrape asks the primary, which gathers
 * every worker's registry (prom-client's AggregatorRegistry: counters and histograms summed, the CRL
 * age gauge the oldest). A scrape lands on any worker, so one worker's figures alone would jump about.
 */
export function clusterMetricsText(): Promise<string> {
  const id = nextRequest++;
  return new Promise((resolve, reject) => {
    waiting.set(id, { resolve, reject });
    const message: ClusterMessage = { type: 'hallmark:metrics-request', id };
    process.send?.(message);
  });
}
