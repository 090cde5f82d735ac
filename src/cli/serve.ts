import { openContext } from '../context.js';
import { startHallmark } from '../server.js';
import { usageError } from './usage-error.js';
import { createLogger } from '../observability/logger.js';

export interface ServeFlags {
  json: boolean;
  host?: string;
  'https-port'?: string;
  'http-port'?: string;
}

const logger = createLogger();
const log = (line: string) => logger.info(line);

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
  const ctx = await openContext({ withKeys: true });
  let running;
  try {
    running = await startHallmark(ctx, { host, httpsPort, httpPort, log, logger });
  } catch (e) {
    await ctx.close();
    throw e;
  }
  if (flags.json) process.stdout.write(JSON.stringify({ ready: { https: running.https, http: running.http, host, tlsNotAfter: running.tlsNotAfter.toISOString() } }) + '\n');
  log(`hallmark serving HTTPS on ${host} port ${running.https} (EST, REST) and HTTP on port ${running.http} (CA certificates, health)`);

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
