import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../../base/clock.js';
import type { CrlCache } from '../crl/cache.js';
import { registry } from '../../observability/metrics.js';
import { databaseUnavailable, isDatabaseUnavailable } from '../../http/errors.js';
import { STORAGE_RETRY_AFTER_SECONDS } from '../../store/faults.js';

export interface PublicDeps {
  /** The DER certificate of a CA generation by name, or undefined. */
  caCertificate: (name: string) => Uint8Array | undefined;
  crls: CrlCache;
  ocsp: (req: IncomingMessage, res: ServerResponse, path: string) => Promise<void>;
  /** POST /tsa, the RFC 3161 time-stamping authority (absent when tsa.enabled is false). */
  tsa?: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  /** /scep and /scep/<label>, SCEP (RFC 8894 §4: over HTTP; absent when scep.enabled is false). */
  scep?: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  clock: Clock;
  log: (line: string) => void;
  /** /readyz: database reachable, token logged in, CRLs fresh; warnings (the public URL) do not make it unready. */
  ready: () => Promise<{ ready: boolean; checks: Record<string, string>; warnings?: Record<string, string> }>;
  metrics: { enabled: boolean; allowFrom: string[] };
  /** The text /metrics answers with: this process's registry unless given (`serve --workers`: the whole cluster's). */
  metricsText?: () => Promise<string>;
}

const send = (res: ServerResponse, status: number, type: string, body: string | Uint8Array, headers: Record<string, string> = {}, head = false) => {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'X-Content-Type-Options': 'nosniff', ...headers });
  res.end(head ? undefined : body);
};

/**
 * The plain-HTTP listener: public CA material, CRLs, OCSP, time-stamps and health, no authentication, nothing
 * secret (docs/http-api.md). A bare node:http handler, because this is the path relying parties hit
 * hardest. Status data is signed, so plain HTTP is what RFC 5280 §4.2.1.13 and RFC 6960 expect.
 */
export async function createPublicHandler(deps: PublicDeps): Promise<(req: IncomingMessage, res: ServerResponse) => void> {

  const route = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const head = req.method === 'HEAD';
    if (path === '/ocsp' || path.startsWith('/ocsp/')) {
      const allowed = path === '/ocsp' ? 'POST' : 'GET';
      if (req.method !== allowed && !(allowed === 'GET' && head)) return send(res, 405, 'text/plain', `use ${allowed} for ${path === '/ocsp' ? '/ocsp' : '/ocsp/<base64 request>'}\n`, { Allow: allowed });
      return deps.ocsp(req, res, path);
    }
    if (deps.scep && (path === '/scep' || path.startsWith('/scep/'))) return deps.scep(req, res);
    if (path === '/tsa' && deps.tsa) {
      if (req.method !== 'POST') return send(res, 405, 'text/plain', 'use POST for /tsa (RFC 3161 §3.4)\n', { Allow: 'POST' });
      return deps.tsa(req, res);
    }
    if (req.method !== 'GET' && !head) return send(res, 405, 'text/plain', 'method not allowed\n', { Allow: 'GET, HEAD' });
    if (path === '/healthz') return send(res, 200, 'application/json', '{"status":"ok"}\n', { 'Cache-Control': 'no-store' }, head);
    if (path === '/readyz') {
      const state = await deps.ready();
      return send(res, state.ready ? 200 : 503, 'application/json', JSON.stringify({ status: state.ready ? 'ready' : 'not ready', checks: state.checks, ...(state.warnings ? { warnings: state.warnings } : {}) }) + '\n', { 'Cache-Control': 'no-store' }, head);
    }
    if (path === '/metrics' && deps.metrics.enabled) {
      // Off the public internet by default: only the configured (loopback) addresses get an answer.
      if (!deps.metrics.allowFrom.includes(req.socket.remoteAddress ?? '')) return send(res, 403, 'text/plain', 'metrics are not served to this address\n', {}, head);
      return send(res, 200, registry.contentType, await (deps.metricsText ?? (() => registry.metrics()))(), { 'Cache-Control': 'no-store' }, head);
    }
    const ca = /^\/ca\/([a-z0-9-]+)\.crt$/.exec(path);
    if (ca) {
      const der = deps.caCertificate(ca[1]!);
      // RFC 5280 §4.2.2.1: caIssuers over HTTP is a single DER certificate, application/pkix-cert.
      if (der) return send(res, 200, 'application/pkix-cert', der, { 'Cache-Control': 'public, max-age=86400' }, head);
    }
    const served = crlAt(path);
    if (served) {
      // Cacheable until nextUpdate, no longer (RFC 5280 §5.1.2.5).
      const maxAge = Math.max(0, Math.floor((served.nextUpdate.getTime() - deps.clock.now().getTime()) / 1000));
      if (req.headers['if-none-match'] === served.etag) return send(res, 304, 'application/pkix-crl', '', { ETag: served.etag }, true);
      // RFC 9110 §13.1.3: not modified since a date at or after this CRL's (whole seconds, as HTTP dates are).
      const since = Date.parse(req.headers['if-modified-since'] ?? '');
      if (req.headers['if-none-match'] === undefined && !Number.isNaN(since) && since >= Math.floor(served.thisUpdate.getTime() / 1000) * 1000) {
        return send(res, 304, 'application/pkix-crl', '', { ETag: served.etag, 'Last-Modified': served.thisUpdate.toUTCString() }, true);
      }
      return send(
        res,
        200,
        'application/pkix-crl',
        served.der,
        { 'Cache-Control': `public, max-age=${maxAge}, no-transform`, 'Last-Modified': served.thisUpdate.toUTCString(), Expires: served.nextUpdate.toUTCString(), ETag: served.etag },
        head,
      );
    }
    send(res, 404, 'text/plain', 'not found\n', {}, head);
  };

  /**
   * /crl/<ca>.crl: the whole CRL; /crl/<ca>/<shard>.crl: one shard of a partitioned CRL (RFC 5280
   * §5.2.5); /crl/<ca>/delta.crl and /crl/<ca>/<shard>-delta.crl: their delta CRLs (§5.2.4).
   */
  const crlAt = (path: string) => {
    const whole = /^\/crl\/([a-z0-9-]+)\.crl$/.exec(path);
    if (whole) return deps.crls.get(whole[1]!);
    const scoped = /^\/crl\/([a-z0-9-]+)\/(?:(0|[1-9][0-9]{0,3})(-delta)?|(delta))\.crl$/.exec(path);
    if (!scoped) return undefined;
    const [, ca, shard, shardDelta, wholeDelta] = scoped;
    return deps.crls.find(ca!, shard === undefined ? null : Number(shard), shardDelta || wholeDelta ? 'delta' : 'complete');
  };

  return (req, res) => {
    route(req, res).catch((e: Error) => {
      deps.log(`public listener error: ${e.message}`);
      if (res.headersSent) return void res.destroy();
      // What needs the database and is not in memory waits for it: 503 with the reason, not a 500.
      if (isDatabaseUnavailable(e)) send(res, 503, 'text/plain', `${databaseUnavailable(e).message}\n`, { 'Retry-After': String(STORAGE_RETRY_AFTER_SECONDS) });
      else send(res, 500, 'text/plain', 'internal error\n');
    });
  };
}
