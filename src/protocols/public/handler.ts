import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CaStore } from '../../store/cas.js';

/**
 * The plain-HTTP listener: public CA material and health, no authentication, nothing secret
 * (CONTRACT.md). A bare node:http handler, because this is the hot path relying parties hit.
 * CA certificates are loaded once: they do not change while the process runs.
 */
export async function createPublicHandler(cas: CaStore): Promise<(req: IncomingMessage, res: ServerResponse) => void> {
  const caCerts = new Map((await cas.list()).map((row) => [row.name, new Uint8Array(row.certificate)]));

  const send = (res: ServerResponse, status: number, type: string, body: string | Uint8Array, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'X-Content-Type-Options': 'nosniff', ...headers });
    res.end(body);
  };

  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(res, 405, 'text/plain', 'method not allowed\n', { Allow: 'GET, HEAD' });
    }
    if (path === '/healthz') return send(res, 200, 'application/json', '{"status":"ok"}\n', { 'Cache-Control': 'no-store' });
    const ca = /^\/ca\/([a-z0-9-]+)\.crt$/.exec(path);
    if (ca) {
      const der = caCerts.get(ca[1]!);
      // RFC 5280 §4.2.2.1: caIssuers over HTTP is a single DER certificate, application/pkix-cert.
      if (der) return send(res, 200, 'application/pkix-cert', der, { 'Cache-Control': 'public, max-age=86400' });
    }
    send(res, 404, 'text/plain', 'not found\n');
  };
}
