import os from 'node:os';
import { openContext } from '../app/context.js';
import { runPrimary } from '../cluster/primary.js';
import { announceReady, clusterMetricsText, joinClusterMetrics, workerSlot } from '../cluster/worker.js';
import { startHallmark } from '../app/server.js';
import { usageError } from './usage-error.js';
import { createLogger } from '../observability/logger.js';

export interface ServeFlags {
  json: boolean;
  host?: string;
  'https-port'?: string;
  'http-port'?: string;
  workers?: string;
}

const slot = workerSlot();
// A worker's lines say which worker wrote them.
const logger = slot === undefined ? createLogger() : createLogger().child({ worker: slot });
const log = (line: string) => logger.info(line);

/** `--workers`: a number of processes, or `auto` for one per core. */
function workerCount(value: string | undefined): number {
  if (value === undefined) return 1;
  if (value === 'auto') return os.availableParallelism();
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw usageError(`--workers takes a number of processes from 1 to 64, or auto (one per core), got "${value}"`);
  return n;
}

function port(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw usageError(`--${flag} takes a port number, got "${value}"`);
  return n;
}

export async function serveCommand(flags: ServeFlags): Promise<void> {
  const host = flags.host ?? '::';
  const httpsPort = port(flags['https-port'], 8443, 'https-port');
  const httpPort = port(flags['http-port'], 8080, 'http-port');
  let workers = workerCount(flags.workers);
  if (slot === undefined && workers > 1 && !process.env.DATABASE_URL) {
    // One SQLite file has one writer at a time: several processes issue fewer certificates than one
    // (measured: docs/operators.md, "Scaling"). Refused when asked for, one process when `auto`.
    if (flags.workers !== 'auto') throw usageError('--workers needs PostgreSQL (DATABASE_URL): on SQLite several processes share one write lock and issue fewer certificates than one; serve without --workers, or see "Scaling" in docs/operators.md');
    log('--workers auto: one process on SQLite (several would share its one write lock); PostgreSQL (DATABASE_URL) scales out');
    workers = 1;
  }
  if (slot === undefined && workers > 1) return runPrimary({ workers, host, json: flags.json, log });

  const ctx = await openContext({ withKeys: true });
  let running;
  try {
    // In a cluster the first worker renews the shared HTTPS certificate; the others read it.
    running = await startHallmark(ctx, { host, httpsPort, httpPort, log, logger, renewsTlsMaterial: slot === undefined || slot === 1, metricsText: slot === undefined ? undefined : clusterMetricsText });
  } catch (e) {
    await ctx.close();
    throw e;
  }
  if (slot !== undefined) {
    // The primary prints the ready line and says the cluster is serving.
    joinClusterMetrics();
    announceReady(running);
  } else {
    if (flags.json) process.stdout.write(JSON.stringify({ ready: { https: running.https, http: running.http, host, tlsNotAfter: running.tlsNotAfter.toISOString() } }) + '\n');
    log(`hallmark serving HTTPS on ${host} port ${running.https} (EST, REST) and HTTP on port ${running.http} (CA certificates, health)`);
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: finishing requests in flight`);
    await running.close();
    await ctx.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
