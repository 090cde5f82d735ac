import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { openContext, issuingDeps } from '../context.js';
import { createHttpsApp } from '../http/app.js';
import { ensureTlsMaterial } from '../http/tls-material.js';
import { httpsOptions } from '../http/tls-options.js';
import { createPublicHandler } from '../protocols/public/handler.js';
import { HallmarkError } from '../errors.js';
import { toPem } from '../x509/pem.js';
import { usageError } from './usage-error.js';
import { auditConfigChanges } from '../config/change-detection.js';
import { createSecurityPlane } from '../security-plane.js';
import { runPeriodicChecks } from '../alerts/periodic.js';
import { writeCheckpoint } from '../audit/checkpoint.js';

export interface ServeFlags {
  json: boolean;
  host?: string;
  'https-port'?: string;
  'http-port'?: string;
}

const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);

function port(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw usageError(`--${flag} takes a port number, got "${value}"`);
  return n;
}

function listen(server: http.Server, portNumber: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(portNumber, host, () => resolve((server.address() as AddressInfo).port));
  });
}

export async function serveCommand(flags: ServeFlags): Promise<void> {
  const host = flags.host ?? '::';
  const httpsPort = port(flags['https-port'], 8443, 'https-port');
  const httpPort = port(flags['http-port'], 8080, 'http-port');
  const ctx = await openContext({ withKeys: true });
  const cas = await ctx.cas.list();
  if (!cas.length) {
    await ctx.close();
    throw new HallmarkError('no_ca', 'no CA yet: run `hallmark init` first', 1);
  }
  const issue = await issuingDeps(ctx);
  const changed = await auditConfigChanges(ctx.db, ctx.audit, ctx.config, 'system:serve');
  if (changed.length) log(`configuration changed since the last start: ${changed.join(', ')} (audited)`);
  const plane = await createSecurityPlane(ctx, log);
  const material = await ensureTlsMaterial(ctx.env.home, ctx.config.tlsNames, issue);
  const httpsServer = https.createServer(httpsOptions(material, cas.map((c) => toPem(c.certificate, 'CERTIFICATE'))), createHttpsApp(ctx, issue, plane, log));
  const httpServer = http.createServer(await createPublicHandler(ctx.cas));
  // Slow clients must not hold sockets forever.
  for (const s of [httpsServer, httpServer]) {
    s.headersTimeout = 10_000;
    s.requestTimeout = 30_000;
  }
  const boundHttps = await listen(httpsServer, httpsPort, host);
  const boundHttp = await listen(httpServer, httpPort, host);
  const ready = { https: boundHttps, http: boundHttp, host, tlsNotAfter: material.notAfter.toISOString() };
  if (flags.json) process.stdout.write(JSON.stringify({ ready }) + '\n');
  log(`hallmark serving HTTPS on ${host} port ${boundHttps} (EST, REST) and HTTP on port ${boundHttp} (CA certificates, health)`);

  // Expiry warnings, summaries, and a signed audit checkpoint whenever the log moved.
  const periodic = async () => {
    try {
      await runPeriodicChecks({ db: ctx.db, clock: ctx.clock, alerts: plane.alerts, config: ctx.config.security.alerts }, async () => [
        ...cas.map((c) => ({ what: `CA ${c.name}`, notAfter: new Date(Number(c.not_after)) })),
        { what: 'HTTPS listener certificate', notAfter: material.notAfter },
      ]);
      await writeCheckpoint(ctx.db, await plane.checkpointSigner(), ctx.env.tokenLabel, ctx.clock);
    } catch (e) {
      log(`periodic checks failed: ${(e as Error).message}`);
    }
  };
  void periodic();
  const timer = setInterval(periodic, ctx.config.security.alerts.checkIntervalSeconds * 1000);
  timer.unref();

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: finishing requests in flight`);
    clearInterval(timer);
    await Promise.all([httpsServer, httpServer].map((s) => new Promise((r) => { s.close(r); s.closeIdleConnections(); })));
    await plane.alerts.flush();
    await ctx.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
