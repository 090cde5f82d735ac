import type { IncomingMessage, ServerResponse } from 'node:http';
import { HallmarkError, isHallmarkError } from '../../base/errors.js';
import { readBody } from '../../http/read-body.js';
import type { RateLimiter } from '../../http/rate-limit.js';
import { isDatabaseUnavailable } from '../../http/errors.js';
import { certsOnly } from '../../x509/pkcs7.js';
import { answerPkiOperation, type ScepDeps } from './server.js';

/**
 * What this server can do (RFC 8894 §3.5.2): AES content encryption, PKIOperation by POST, renewal
 * with the current certificate, SHA-256 and SHA-512, and the standard as a whole.
 */
export const CA_CAPS = ['AES', 'POSTPKIOperation', 'Renewal', 'SCEPStandard', 'SHA-256', 'SHA-512'];
const BODY_LIMIT = 64 * 1024;
const PKI_MESSAGE = 'application/x-pki-message';

export const isScepPath = (url: string | undefined) => /^\/scep(\/[^/?]*)?(\?|$)/.test(url ?? '');

export interface ScepHttpDeps extends ScepDeps {
  /** The CA certificates a client gets with the RA's (GetCACert): the issuing CA, then its parents. */
  caCertificates: () => Uint8Array[];
  limit: RateLimiter;
  log: (line: string) => void;
}

/**
 * SCEP over HTTP (RFC 8894 §4) at /scep and /scep/<label>, on the plain-HTTP and HTTPS listeners (the
 * messages are protected by CMS, not by TLS): GET ?operation=GetCACaps, GetCACert, PKIOperation with
 * &message=<base64>; POST ?operation=PKIOperation with the DER message as the body. A SCEP refusal is a
 * CertRep (200) with its failInfo; HTTP errors are for what is not SCEP: 400 garbage, 404 unknown
 * label, 405, 413, 429, 503 (database or token).
 */
export function createScepHandler(deps: ScepHttpDeps): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const send = (res: ServerResponse, status: number, type: string, body: string | Uint8Array, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', ...headers });
    res.end(body);
  };
  return async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://scep.invalid');
      const label = decodeURIComponent(url.pathname.split('/')[2] ?? '') || 'default';
      if (!deps.labels[label]) throw new HallmarkError('unknown_label', `no enrollment label "${label}" (est.labels in the CA configuration: SCEP labels are EST's)`, 404);
      const operation = url.searchParams.get('operation');
      const source = req.socket.remoteAddress ?? 'unknown';
      if (operation === 'GetCACaps' && req.method === 'GET') return send(res, 200, 'text/plain', CA_CAPS.join('\n') + '\n');
      if (operation === 'GetCACert' && req.method === 'GET') {
        const ra = deps.ra();
        if (!ra) throw new HallmarkError('scep_unavailable', 'the SCEP RA has no key yet; retry in a moment', 503);
        // §4.2.1.2: with an RA, a degenerate certs-only SignedData of the RA and CA certificates.
        return send(res, 200, 'application/x-x509-ca-ra-cert', certsOnly([ra.chain[0]!, ...deps.caCertificates()]));
      }
      if (operation === 'PKIOperation' && (req.method === 'GET' || req.method === 'POST')) {
        const retryAfter = deps.limit.take(source);
        if (retryAfter !== undefined) throw new HallmarkError('rate_limited', 'too many SCEP requests from this address; retry later', 429, { retryAfter });
        let message: Uint8Array;
        if (req.method === 'POST') message = new Uint8Array(await readBody(req, BODY_LIMIT));
        else {
          const text = (url.searchParams.get('message') ?? '').replace(/\s+/g, '');
          if (text.length > (BODY_LIMIT * 4) / 3 + 4) throw new HallmarkError('body_too_large', 'the message is larger than 64 KiB', 413);
          if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new HallmarkError('invalid_scep_message', 'message= is not base64', 400);
          message = new Uint8Array(Buffer.from(text, 'base64'));
        }
        if (!message.length) throw new HallmarkError('invalid_scep_message', 'the request carries no pkiMessage', 400);
        return send(res, 200, PKI_MESSAGE, await answerPkiOperation(deps, label, message, source));
      }
      if (operation === 'GetCACaps' || operation === 'GetCACert' || operation === 'PKIOperation') throw new HallmarkError('method_not_allowed', `${operation} takes ${operation === 'PKIOperation' ? 'GET or POST' : 'GET'} (RFC 8894 §4)`, 405);
      throw new HallmarkError('unknown_operation', `operation=${operation ?? '(none)'}: GetCACaps, GetCACert or PKIOperation (RFC 8894 §4)`, 400);
    } catch (e) {
      if (isHallmarkError(e)) {
        const retry = e.details?.retryAfter;
        return send(res, e.status, 'text/plain', `${e.message}\n`, retry !== undefined ? { 'Retry-After': String(retry) } : {});
      }
      if (isDatabaseUnavailable(e)) return send(res, 503, 'text/plain', 'the database is unavailable; retry shortly\n', { 'Retry-After': '5' });
      deps.log(`scep: ${(e as Error).stack ?? e}`);
      return send(res, 503, 'text/plain', `the request could not be served: ${(e as Error).message}\n`);
    }
  };
}
