import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import { SLOT_VARIABLE, type ClusterMessage } from './worker.js';
import { createAuthFailureRelay } from './auth-failures.js';
import { createTallyRelay } from './tallies.js';

/**
 * `hallmark serve --workers <n>`: n worker processes, each a whole Hallmark instance (its own event
 * loop, database connections and PKCS#11 sessions), on listeners they share through node:cluster
 * (the primary accepts connections and hands them out in turn). One Node process keeps one core
 * busy with TLS, HTTP and the database driver; the other cores were idle.
 *
 * The primary opens neither the token nor the database. It starts the workers one after another,
 * each once the previous one is serving, so that what a start writes once (the HTTPS certificate,
 * OCSP responders, the audited configuration digest) is written by the first and found by the rest.
 * It restarts a worker that dies, gives up when one keeps dying, and on SIGTERM or SIGINT lets every
 * worker finish its requests in flight.
 */
export interface PrimaryOptions {
  workers: number;
  host: string;
  json: boolean;
  log: (line: string) => void;
}

/** Restarts of one slot within RESTART_WINDOW_MS beyond which the primary gives up. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;
const RESTART_DELAY_MS = 1_000;
/** How long workers get to finish their requests after SIGTERM before they are killed. */
const STOP_GRACE_MS = 30_000;

export async function runPrimary(options: PrimaryOptions): Promise<void> {
  const { log } = options;
  const workers = new Map<number, Worker>();
  const restarts = new Map<number, number[]>();
  let stopping = false;

  // Whole-cluster /metrics: a worker asks, the primary gathers every worker's registry.
  const aggregator = new AggregatorRegistry();
  // Authentication failures counted for the whole cluster (auth-failures.ts).
  const authFailures = createAuthFailureRelay(() => workers.values());
  // And the anomaly rules (tallies.ts).
  const tally = createTallyRelay();
  cluster.on('message', (worker, message: ClusterMessage) => {
    if (message?.type === 'hallmark:auth-failure') return authFailures.failure(worker, message);
    if (message?.type === 'hallmark:tally') return tally(worker, message);
    if (message?.type !== 'hallmark:metrics-request') return;
    const reply = (answer: Omit<Extract<ClusterMessage, { type: 'hallmark:metrics' }>, 'type' | 'id'>) => {
      if (worker.isConnected()) worker.send({ type: 'hallmark:metrics', id: message.id, ...answer } satisfies ClusterMessage);
    };
    aggregator.clusterMetrics().then(
      (text) => reply({ text }),
      (e: Error) => reply({ error: e.message }),
    );
  });

  /** Forks the worker of `slot`; resolves when it serves, rejects when it exits before that. */
  const start = (slot: number) =>
    new Promise<Extract<ClusterMessage, { type: 'hallmark:ready' }>>((resolve, reject) => {
      const worker = cluster.fork({ [SLOT_VARIABLE]: String(slot) });
      workers.set(slot, worker);
      let ready = false;
      worker.on('message', (message: ClusterMessage) => {
        if (message?.type !== 'hallmark:ready' || ready) return;
        ready = true;
        authFailures.ready(worker);
        resolve(message);
      });
      worker.on('exit', (code, signal) => {
        if (workers.get(slot) === worker) workers.delete(slot);
        if (!ready) return reject(new Error(`worker ${slot} stopped before serving (${signal ?? `exit code ${code}`}); its reason is above`));
        if (!stopping) restart(slot, signal ?? `exit code ${code}`);
      });
    });

  const stopAll = async (signal: NodeJS.Signals) => {
    const running = [...workers.values()];
    const killer = setTimeout(() => running.forEach((w) => w.process.kill('SIGKILL')), STOP_GRACE_MS);
    await Promise.all(running.map((w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : (w.once('exit', () => resolve()), w.process.kill(signal))))));
    clearTimeout(killer);
  };

  const giveUp = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    log(`${reason}; stopping the other workers`);
    await stopAll('SIGTERM');
    process.exit(1);
  };

  const restart = (slot: number, how: string) => {
    const now = Date.now();
    const recent = (restarts.get(slot) ?? []).filter((t) => now - t < RESTART_WINDOW_MS);
    if (recent.length >= MAX_RESTARTS) return void giveUp(`worker ${slot} died ${MAX_RESTARTS + 1} times within ${RESTART_WINDOW_MS / 1000} s (last: ${how})`);
    restarts.set(slot, [...recent, now]);
    log(`worker ${slot} died (${how}); starting it again in ${RESTART_DELAY_MS / 1000} s`);
    setTimeout(() => {
      if (stopping) return;
      start(slot).then(
        () => log(`worker ${slot} serving again`),
        (e: Error) => restart(slot, e.message),
      );
    }, RESTART_DELAY_MS);
  };

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      log(`${signal}: the workers finish their requests in flight`);
      void stopAll('SIGTERM').then(() => process.exit(0));
    });
  }

  let first: Extract<ClusterMessage, { type: 'hallmark:ready' }> | undefined;
  for (let slot = 1; slot <= options.workers; slot++) {
    try {
      const ready = await start(slot);
      first ??= ready;
    } catch (e) {
      await giveUp((e as Error).message);
      return;
    }
  }
  if (options.json) process.stdout.write(JSON.stringify({ ready: { https: first!.https, http: first!.http, host: options.host, tlsNotAfter: first!.tlsNotAfter, workers: options.workers } }) + '\n');
  log(`hallmark serving HTTPS on ${options.host} port ${first!.https} (EST, REST) and HTTP on port ${first!.http} with ${options.workers} worker processes`);
}
