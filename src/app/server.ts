import type { TLSSocket } from 'node:tls';
import http from 'node:http';
import { probePublicUrl, type PublicUrlCheck } from '../http/public-url-probe.js';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { AppContext } from './context.js';
import { crlDeps, issuingDeps } from './context.js';
import type { IssueDeps } from '../ca/issue.js';
import { createHttpsListener } from './https-app.js';
import { ensureTlsMaterial, readTlsMaterial, type TlsMaterial } from '../http/tls-material.js';
import { keyPackageSignerOf, type KeyPackageSigner } from '../protocols/est/encrypted-key.js';
import { httpsOptions } from '../http/tls-options.js';
import { createPublicHandler } from '../protocols/public/handler.js';
import { ensureTsa } from '../signing/tsa.js';
import { ensureServiceSigner } from '../signing/service-signer.js';
import type { LoadedSigner } from '../signing/signers.js';
import { revokeUnconfirmedCertificates } from '../protocols/cmp/server.js';
import { createTsaHandler } from '../protocols/tsa/handler.js';
import { auditConfigChanges } from '../config/change-detection.js';
import { createSecurityPlane, type SecurityPlane } from './security-plane.js';
import { runPeriodicChecks } from '../alerts/periodic.js';
import { createStorageProbe, forgetInstance, heartbeat } from '../store/health.js';
import { sweepAbandonedIntents } from '../ca/abandoned-intents.js';
import { INSTANCE } from '../base/instance.js';
import { databaseFileGuard } from '../store/health.js';
import { writeCheckpoint } from '../audit/checkpoint.js';
import { HallmarkError } from '../base/errors.js';
import { toPem } from '../x509/pem.js';
import { rawSubject } from '../x509/certificate-fields.js';
import { createScepHandler } from '../protocols/scep/handler.js';
import { enrollmentPorts } from './enrollment-ports.js';
import { checkEnrollmentToken } from '../auth/enrollment-tokens.js';
import { createRateLimiter } from '../http/rate-limit.js';
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../observability/logger.js';
import { measureCrlAgesWith } from '../observability/metrics.js';
import { parseKeyUri } from '../keys/key-uri.js';
import { servedRoutes } from '../http/openapi.js';
import { createCrlCache } from '../protocols/crl/cache.js';
import { createCrlUpdater, type CrlUpdater } from '../ca/crl.js';
import { ensureResponders, type Responder } from '../ca/ocsp-responders.js';
import { createOcspCache } from '../protocols/ocsp/cache.js';
import { createLastSeenTracker } from '../ca/last-seen.js';
import { startAuditSequencer } from '../audit/sequencer.js';
import { listenForStatusChanges, type StatusNotifications } from '../store/status-notifications.js';
import { createOcspHandler } from '../protocols/ocsp/handler.js';
import { ocspResponseSigners } from '../ca/ocsp-signing.js';
import { createOcspResponder } from '../protocols/ocsp/responder.js';
import type { RevokeDeps } from '../ca/revoke.js';
import { createStatusWatcher } from '../ca/status-watcher.js';
import { createOcspPresigner, type OcspPresigner } from '../ca/ocsp-presigner.js';
import { createPresignedResponses, type PresignedResponses } from '../protocols/ocsp/presigned.js';
import { checkCrlFreshness, staleCrls } from '../protocols/crl/freshness.js';
import { revokeSuperseded } from '../ca/enroll.js';
import { retireSpentGenerations } from '../ca/rollover.js';
import { endOverlaps } from '../signing/signer-lifecycle.js';

export interface ListenOptions {
  host: string;
  httpsPort: number;
  httpPort: number;
  log: (line: string) => void;
  /** Structured request log; when absent, its lines go to `log`. */
  logger?: Logger;
  /** What /metrics answers with, when not this process's registry (`serve --workers`). */
  metricsText?: () => Promise<string>;
  /**
   * Whether this process issues and writes the HTTPS certificate under $HALLMARK_HOME/tls (default).
   * The workers of `serve --workers` share one directory: one of them renews, the others read.
   */
  renewsTlsMaterial?: boolean;
}

export interface RunningHallmark {
  https: number;
  http: number;
  tlsNotAfter: Date;
  issue: IssueDeps;
  plane: SecurityPlane;
  revocation: RevokeDeps;
  crlUpdater: CrlUpdater;
  /** The OCSP responders in use now, per CA. */
  responders(): Map<string, Responder>;
  /** Pre-signed OCSP responses held here, and the pre-signer (runs when revocation.ocsp.presign). */
  presigned: PresignedResponses;
  presigner: OcspPresigner;
  /** "METHOD /api/v1/path" for every REST route Express serves. */
  servedRoutes: string[];
  /** Looks for status changes and CRLs made elsewhere now, instead of waiting for the timer. */
  poll(): Promise<void>;
  /** PostgreSQL: whether status changes made elsewhere are being notified as they commit (else polled). */
  statusNotified(): boolean;
  /** Runs the periodic checks now (expiry, summaries, audit checkpoint). */
  periodic(): Promise<void>;
  /** Stops accepting, finishes requests in flight, delivers pending alerts. Leaves the context open. */
  close(): Promise<void>;
}

function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

/** Both listeners and the background work of `hallmark serve`, over an opened context with keys. */
/** How long a stopping instance lets requests in flight finish before it closes their connections. */
const DRAIN_DEADLINE_MS = 10_000;

export async function startHallmark(ctx: AppContext, options: ListenOptions): Promise<RunningHallmark> {
  const { log } = options;
  const cas = await ctx.cas.list();
  if (!cas.length) throw new HallmarkError('no_ca', 'no CA yet: run `hallmark init` first', 1);
  const issue = await issuingDeps(ctx);
  const changed = await auditConfigChanges(ctx.store, ctx.audit, ctx.config, 'system:serve');
  if (changed.length) log(`configuration changed since the last start: ${changed.join(', ')} (audited)`);
  const plane = await createSecurityPlane(ctx, log);
  // In a cluster only one worker issues the shared HTTPS certificate; the others read what it wrote.
  const loadTlsMaterial = options.renewsTlsMaterial === false ? async () => readTlsMaterial(ctx.env.home, ctx.config.tlsNames, issue) : () => ensureTlsMaterial(ctx.env.home, ctx.config.tlsNames, issue);
  const found = await loadTlsMaterial();
  if (!found) throw new HallmarkError('tls_material', `no valid HTTPS certificate in ${ctx.env.home}/tls yet (the first worker writes it)`, 1);
  let material = found;

  // Revocation: CRLs signed by an updater and served from memory; OCSP through filter → cache → live.
  const crls = crlDeps(ctx, issue.issuers);
  const crlCache = createCrlCache(crls.crls);
  const crlUpdater = createCrlUpdater(crls, (row) => crlCache.put(row), log);
  await crlUpdater.refreshDue();
  await crlCache.refresh();
  const responderDeps = { store: ctx.store, keys: ctx.keys!, issue, tokenLabel: ctx.env.tokenLabel };
  let responders = await ensureResponders(responderDeps, log);
  const ocspConfig = ctx.config.revocation.ocsp;
  const ocspCache = createOcspCache(ctx.clock, { refreshBeforeMs: ocspConfig.refreshBeforeMinutes * 60_000, maxEntries: 500_000 });
  const lastSeen = createLastSeenTracker(ctx.store, ctx.clock, log);
  // Pre-signed responses (RFC 5019): signed by one instance at a time, held in every instance's memory.
  const signerFor = ocspResponseSigners(() => responders);
  const presigned = createPresignedResponses({ store: ctx.store, clock: ctx.clock, log, taken: (issuer, serial) => ocspCache.superseded(issuer, serial) });
  const presigner = createOcspPresigner({ store: ctx.store, issuers: issue.issuers, signerFor, clock: ctx.clock, config: ocspConfig, log });
  if (ocspConfig.presign) {
    const loaded = await presigned.load();
    if (loaded) log(`OCSP: ${loaded} pre-signed responses loaded`);
    presigner.start();
  }
  const ocsp = createOcspHandler({
    seen: lastSeen.note,
    cache: ocspCache,
    answer: createOcspResponder({
      issuers: issue.issuers,
      certificates: ctx.certificates,
      signerFor,
      clock: ctx.clock,
      config: ocspConfig,
      log,
      cached: (key) => ocspCache.get(key),
      presigned: ocspConfig.presign ? (ca, serial) => presigned.answer(ca, serial) : undefined,
    }),
    clock: ctx.clock,
    log,
  });
  // A status change: every answer held about the certificate is dropped, and its pre-signed one made again.
  const statusChanged = (change: { issuer: string; serial: string; at: number }) => {
    ocspCache.invalidate(change.issuer, change.serial);
    presigned.invalidate(change.serial, change.at);
    if (ocspConfig.presign) presigner.statusChanged(change.serial);
  };
  // Made here: acted on at once, and not again when the status look below finds it in the store.
  const watcher = createStatusWatcher(ctx.store, ctx.clock, statusChanged);
  const revocation: RevokeDeps = {
    store: ctx.store,
    audit: ctx.audit,
    clock: ctx.clock,
    listeners: [statusChanged, watcher.noted, (change) => crlUpdater.revoked(change.issuer)],
  };
  // Status changes made elsewhere (CLI, other instances) reach this instance's OCSP answers within
  // statusPollMs: a look of its own, an indexed read, apart from the heavier poll below. One look at a
  // time (the watcher keeps a cursor); a caller of poll() waits for a look that starts after its call.
  let statusLook: Promise<void> = Promise.resolve();
  // A look asked for while another is still waiting to start joins it (it starts after the call too):
  // a burst of notifications makes one look, not one each.
  let nextLook: Promise<void> | undefined;
  const pollStatus = () =>
    (nextLook ??= statusLook = statusLook
      .catch(() => {})
      .then(() => {
        nextLook = undefined;
        return watcher.poll();
      }));
  // PostgreSQL: told of each status change as it commits (LISTEN/NOTIFY, migration 023), once the
  // listeners are up (below). While that works, the timer below stands down; the poll every pollSeconds
  // stays as the fallback.
  let notifications: StatusNotifications | undefined;
  const statusPollFailed = (e: Error) => log(`status poll failed: ${e.message}`);
  let statusBusy = false;
  const statusTimer = setInterval(() => {
    if (statusBusy || notifications?.live()) return;
    statusBusy = true;
    pollStatus()
      .catch(statusPollFailed)
      .finally(() => (statusBusy = false));
  }, ocspConfig.statusPollMs);
  statusTimer.unref();
  const poll = async () => {
    try {
      // A rollover made by the CLI or another instance: load the new CA and give it a responder.
      if (await issue.issuers.refresh()) {
        log(`CA set changed: ${issue.issuers.list().map((i) => i.name).join(', ')}`);
        responders = await ensureResponders(responderDeps, log);
      }
      await pollStatus();
      if (ocspConfig.presign) await presigned.poll();
      await lastSeen.flush();
      await heartbeat(ctx.store, INSTANCE.id, ctx.clock.now().getTime());
      await plane.syncBlocks();
      await plane.denials.sweep();
      await crlUpdater.refreshDue();
      await crlCache.refresh();
    } catch (e) {
      statusPollFailed(e as Error);
    }
  };
  // A poll that outlasts the interval (a CRL of millions signed in it) is not started again under itself.
  let polling: Promise<void> | undefined;
  const pollTimer = setInterval(() => {
    if (polling) return;
    polling = poll().finally(() => (polling = undefined));
  }, ocspConfig.pollSeconds * 1000);
  pollTimer.unref();

  // Client certificates are verified against our CAs and the manufacturers' bootstrap CAs (EST).
  const trusted = [...cas.map((c) => new Uint8Array(c.certificate)), ...ctx.config.est.bootstrapCaCertificates].map((der) => toPem(der, 'CERTIFICATE'));
  const logger = options.logger ?? createLogger({ pretty: false, destination: new Writable({ write: (chunk: Buffer, _e, done) => (log(chunk.toString('utf8').trimEnd()), done()) }) });
  // Server-generated keys returned encrypted are signed with the HTTPS key (RFC 7030 §4.4.2), parsed once per certificate.
  let signerOf: { material: TlsMaterial; signer: KeyPackageSigner } | undefined;
  const keyPackageSigner = () => (signerOf?.material === material ? signerOf : (signerOf = { material, signer: keyPackageSignerOf(material) })).signer;
  // The CMP responder's signer (RFC 9483 §3.1): made with the time-stamping authority's below.
  let cmpResponder: LoadedSigner | undefined;
  // The SCEP RA (RFC 8894): its RSA key on the token signs CertReps and decrypts requests; made below.
  let scepRa: LoadedSigner | undefined;
  const scep = ctx.config.scep.enabled
    ? createScepHandler({
        store: ctx.store,
        audit: ctx.audit,
        clock: ctx.clock,
        keys: ctx.keys!,
        ports: enrollmentPorts(ctx, issue),
        labels: ctx.config.est.labels,
        ra: () => scepRa,
        crl: (ca) => crlCache.get(ca)?.der,
        issuerOf: (nameDer) => issue.issuers.list().find((i) => Buffer.compare(Buffer.from(rawSubject(i.certificate)), Buffer.from(nameDer)) === 0)?.name,
        // The issuing CA, its parents, and the root (a client verifies the RA up to a self-signed anchor).
        caCertificates: () => [...issue.issuers.get(ctx.config.profiles.get(ctx.config.est.labels.default?.profile ?? 'device')?.issuer ?? 'issuing').chain, issue.issuers.get(ctx.config.cas.find((c) => !c.parent)!.name).certificate],
        checkSecret: (device, secret, label, now) => checkEnrollmentToken(ctx.store, device, secret, label, now),
        guard: plane.guard,
        denials: plane.denials,
        limit: createRateLimiter('enrollment', ctx.config.security.rateLimits.enrollment, ctx.clock),
        log,
      })
    : undefined;
  const { app, listener } = createHttpsListener(ctx, issue, plane, revocation, logger, keyPackageSigner, () => cmpResponder, scep);
  const httpsServer = https.createServer(httpsOptions(material, trusted), listener);
  // A connection's client certificate is its identity for the connection's life (and is read once per
  // connection): no TLS 1.2 renegotiation that could swap it (TLS 1.3 has none).
  httpsServer.on('secureConnection', (socket: TLSSocket) => socket.disableRenegotiation());
  const caNames = () => issue.issuers.list().map((i) => i.name);
  const hasDeltas = (ca: string) => crls.policy(issue.issuers.exact(ca).family).deltas;
  const storage = createStorageProbe(ctx.store, INSTANCE.id, () => ctx.clock.now().getTime());
  // The SQLite file removed or replaced while serving: every request that needs it is refused from now on.
  databaseFileGuard(ctx.store)?.onLost((reason) => {
    log(`database lost: ${reason}; requests that need the database get 503 until it is restored and Hallmark restarted`);
    plane.alerts.raise({ rule: 'database-lost', severity: 'critical', message: `the database file is gone: ${reason}`, details: { reason } });
  });
  let publicUrl: PublicUrlCheck = { ok: true, detail: 'not checked yet' };
  const ready = async () => {
    // Which check failed is in the answer: the database file, reads, the schema, a write, the token, the CRLs.
    const checks: Record<string, string> = { ...(await storage()) };
    try {
      checks.token = (await ctx.keys!.hasKey(parseKeyUri(cas.find((c) => c.parent)!.key_uri))) ? 'ok' : 'issuing CA key missing';
    } catch (e) {
      checks.token = `unavailable: ${(e as Error).message}`;
    }
    const now = ctx.clock.now().getTime();
    const stale = staleCrls(crlCache, caNames(), now, hasDeltas);
    checks.crl = stale.length ? `stale: ${stale.map((c) => c.name).join(', ')}` : 'ok';
    // A public URL that does not lead here is a warning, not unreadiness: a proxy may be on its way.
    const warnings = publicUrl.ok ? undefined : { publicUrl: publicUrl.detail };
    return { ready: Object.values(checks).every((v) => v === 'ok'), checks, warnings };
  };
  measureCrlAgesWith(() => {
    const now = ctx.clock.now().getTime();
    const ages = new Map<string, number>();
    for (const ca of caNames()) {
      const served = crlCache.get(ca);
      if (served) ages.set(ca, (now - served.thisUpdate.getTime()) / 1000);
    }
    return ages;
  });
  // The time-stamping authority (RFC 3161): its signer made at the first start, renewed by the periodic check.
  const tsaDeps = { store: ctx.store, keys: ctx.keys!, issue, tokenLabel: ctx.env.tokenLabel, audit: ctx.audit, clock: ctx.clock };
  let tsa = ctx.config.tsa.enabled ? await ensureTsa(tsaDeps, log) : undefined;
  cmpResponder = ctx.config.cmp.enabled ? await ensureServiceSigner(tsaDeps, 'cmp', log) : undefined;
  scepRa = scep ? await ensureServiceSigner(tsaDeps, 'scep', log) : undefined;
  const tsaHandler = ctx.config.tsa.enabled ? createTsaHandler({ store: ctx.store, clock: ctx.clock, config: ctx.config.tsa, tsa: () => tsa, log }) : undefined;
  const httpServer = http.createServer(
    await createPublicHandler({
      tsa: tsaHandler,
      scep,
      caCertificate: (name) => {
        try {
          return issue.issuers.exact(name).certificate;
        } catch {
          return undefined;
        }
      },
      crls: crlCache, ocsp, clock: ctx.clock, log, ready, metrics: ctx.config.operations.metrics, metricsText: options.metricsText }),
  );
  // Slow clients must not hold sockets forever.
  for (const s of [httpsServer, httpServer]) {
    s.headersTimeout = 10_000;
    s.requestTimeout = 30_000;
  }
  const httpsPort = await listen(httpsServer, options.httpsPort, options.host);
  const httpPort = await listen(httpServer, options.httpPort, options.host);

  // Does publicBaseUrl lead here? Said loudly at start and whenever the answer changes; /readyz and
  // `hallmark status` carry it too.
  const checkPublicUrl = async () => {
    const probed = issue.issuers.list()[0];
    if (!probed) return;
    const found = await probePublicUrl(ctx.config.publicBaseUrl, probed, { httpPort, configFile: ctx.env.configFile });
    if (found.ok !== publicUrl.ok || found.detail !== publicUrl.detail) log(found.ok ? found.detail : `WARNING: ${found.detail}`);
    publicUrl = found;
  };
  await checkPublicUrl();

  // Expiry warnings, summaries, and a signed audit checkpoint whenever the log moved.
  const periodic = async () => {
    try {
      // Entries left pending from before this instance ran (a CLI that died before chaining its own) are
      // chained first: the audit-sequencing alert below is for a sequencer that cannot, not one yet to start.
      await ctx.audit.sequence({ skipIfBusy: true }).catch(() => undefined);
      // Responders renew themselves in the last third of their life; the swap needs no restart.
      responders = await ensureResponders(responderDeps, log);
      if (tsa) tsa = await ensureTsa(tsaDeps, log);
      if (cmpResponder) cmpResponder = await ensureServiceSigner(tsaDeps, 'cmp', log);
      if (scepRa) scepRa = await ensureServiceSigner(tsaDeps, 'scep', log);
      const unconfirmed = await revokeUnconfirmedCertificates({ store: ctx.store, clock: ctx.clock, revocation });
      if (unconfirmed.length) log(`CMP: revoked ${unconfirmed.length} certificate(s) never confirmed (certConf) in time: ${unconfirmed.join(', ')}`);
      // So does the HTTPS certificate: new handshakes get the new one, open connections keep theirs.
      const current = await loadTlsMaterial();
      if (current && current.cert !== material.cert) {
        httpsServer.setSecureContext(httpsOptions(current, trusted));
        material = current;
        log(`HTTPS certificate renewed, valid until ${current.notAfter.toISOString()}`);
      }
      await runPeriodicChecks({ store: ctx.store, clock: ctx.clock, alerts: plane.alerts, config: ctx.config.security.alerts }, async () => [
        ...issue.issuers.list().map((c) => ({ what: `CA ${c.name}`, notAfter: c.notAfter })),
        // Responders renew at a third of their life left; one past a quarter means renewal is failing.
        ...[...responders.values()]
          .filter((r) => r.notAfter.getTime() - ctx.clock.now().getTime() < (r.notAfter.getTime() - r.notBefore.getTime()) / 4)
          .map((r) => ({ what: `OCSP responder of ${r.ca}`, notAfter: r.notAfter })),
        { what: 'HTTPS listener certificate', notAfter: material.notAfter },
      ]);
      await checkCrlFreshness(crlCache, caNames(), ctx.clock, plane.alerts, hasDeltas);
      await checkPublicUrl();
      await revokeSuperseded(revocation, ctx.config.est.renewal);
      const swept = await sweepAbandonedIntents({ store: ctx.store, audit: ctx.audit }, ctx.clock.now().getTime() - ctx.config.factory.abandonedIntentSeconds * 1000);
      if (swept) log(`marked ${swept} abandoned intents failed (requests that died before their certificates were recorded)`);
      const retired = await retireSpentGenerations({ store: ctx.store, audit: ctx.audit, clock: ctx.clock, issuers: issue.issuers });
      if (retired.length) log(`retired CA generations with no live certificate left: ${retired.join(', ')}`);
      const overlaps = await endOverlaps({ store: ctx.store, audit: ctx.audit, clock: ctx.clock, issue, keys: ctx.keys!, tokenLabel: ctx.env.tokenLabel, revocation });
      if (overlaps.length) log(`signer keys past their rollover overlap, certificates revoked as superseded: ${overlaps.join(', ')}`);
      await writeCheckpoint(ctx.store, await plane.checkpointSigner(), ctx.env.tokenLabel, ctx.clock);
    } catch (e) {
      log(`periodic checks failed: ${(e as Error).message}`);
    }
  };
  // The checks under way, for close() to wait on (a check that outlasts the interval may overlap the next).
  const checking = new Set<Promise<void>>();
  const check = () => {
    const run = periodic().finally(() => checking.delete(run));
    checking.add(run);
  };
  check();
  const timer = setInterval(check, ctx.config.security.alerts.checkIntervalSeconds * 1000);
  const sequencer = startAuditSequencer(ctx.audit, log);
  // Last: its connection must not outlive a start-up that failed above.
  notifications = listenForStatusChanges(ctx.store, {
    onChange: () => void pollStatus().catch(statusPollFailed),
    log,
  });
  timer.unref();

  return {
    https: httpsPort,
    http: httpPort,
    get tlsNotAfter() {
      return material.notAfter;
    },
    responders: () => responders,
    issue,
    plane,
    periodic,
    revocation,
    crlUpdater,
    poll,
    statusNotified: () => notifications?.live() ?? false,
    servedRoutes: servedRoutes(app.api as never, '/api/v1'),
    presigned,
    presigner,
    async close() {
      clearInterval(timer);
      clearInterval(pollTimer);
      clearInterval(statusTimer);
      await notifications?.close();
      // Looks already under way finish first: they would otherwise go on writing (heartbeat, last seen)
      // after close() has returned, into a store its owner may be closing or dropping.
      await Promise.all([polling, statusLook.catch(() => undefined), ...checking]);
      await presigner.stop();
      crlUpdater.close();
      // Requests in flight may finish, for a bounded time: a client that keeps a connection busy
      // (or never lets it go idle) cannot hold a stopping instance open.
      const drained = setTimeout(() => {
        for (const s of [httpsServer, httpServer]) s.closeAllConnections();
      }, DRAIN_DEADLINE_MS);
      await Promise.all(
        [httpsServer, httpServer].map(
          (s) =>
            new Promise((resolve) => {
              s.close(resolve);
              s.closeIdleConnections();
            }),
        ),
      );
      clearTimeout(drained);
      await plane.denials.sweep(true).catch(() => undefined);
      await lastSeen.flush();
      await sequencer.stop();
      await forgetInstance(ctx.store, INSTANCE.id).catch(() => undefined);
      await plane.alerts.flush();
    },
  };
}
