import { createHash } from 'node:crypto';
import { isDatabaseUnavailable } from '../../http/errors.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../../base/clock.js';
import { OCSP_STATUS, ocspErrorResponse } from '../../x509/ocsp.js';
import type { OcspCache } from './cache.js';
import type { OcspAnswer } from './responder.js';
import { metrics } from '../../observability/metrics.js';

const MAX_REQUEST = 16 * 1024;

export class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) return reject(new HttpRefusal(413, `OCSP requests are at most ${limit} bytes`));
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.destroy();
        reject(new HttpRefusal(413, `OCSP requests are at most ${limit} bytes`));
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * RFC 6960 Appendix A / RFC 5019 §5: POST with `application/ocsp-request`, or GET with the
 * base64 DER request URL-encoded after `/ocsp/`. The request bytes key the response cache.
 */
export async function ocspRequestBytes(req: IncomingMessage, path: string): Promise<Buffer> {
  if (req.method === 'POST') {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/ocsp-request') throw new HttpRefusal(415, 'OCSP requests are sent as application/ocsp-request');
    return readBody(req, MAX_REQUEST);
  }
  let encoded: string;
  try {
    encoded = decodeURIComponent(path.slice('/ocsp/'.length));
  } catch {
    return Buffer.alloc(0); // not URL-encoded properly: answered as a malformed request
  }
  if (encoded.length > (MAX_REQUEST * 4) / 3) throw new HttpRefusal(414, 'OCSP GET request too long; use POST');
  return /^[A-Za-z0-9+/]*={0,2}$/.test(encoded) ? Buffer.from(encoded, 'base64') : Buffer.alloc(0);
}

/** Writes an OCSP answer with the caching headers RFC 5019 §6.2 asks for on GET. */
export function sendOcsp(req: IncomingMessage, res: ServerResponse, answer: OcspAnswer, clock: Clock): void {
  const headers: Record<string, string | number> = { 'Content-Type': 'application/ocsp-response', 'Content-Length': answer.der.length };
  if (req.method === 'GET' && answer.cacheable && answer.thisUpdate && answer.nextUpdate) {
    const maxAge = Math.max(0, Math.floor((answer.nextUpdate.getTime() - clock.now().getTime()) / 1000));
    // RFC 5019 §6.2: the caching headers, ETag among them (a hash of the response, as it suggests).
    const etag = `"${createHash('sha1').update(answer.der).digest('base64url')}"`;
    Object.assign(headers, {
      'Cache-Control': `max-age=${maxAge}, public, no-transform, must-revalidate`,
      'Last-Modified': answer.thisUpdate.toUTCString(),
      Expires: answer.nextUpdate.toUTCString(),
      ETag: etag,
    });
    if (req.headers['if-none-match'] === etag) {
      delete headers['Content-Length'];
      res.writeHead(304, headers);
      return void res.end();
    }
  } else headers['Cache-Control'] = 'no-store';
  res.writeHead(200, headers);
  res.end(req.method === 'HEAD' ? undefined : answer.der);
}

/** filter → cache → live: the whole OCSP path of the public listener. */
export function createOcspHandler(deps: {
  cache: OcspCache;
  answer: (der: Uint8Array, source?: string) => OcspAnswer | Promise<OcspAnswer>;
  clock: Clock;
  log: (line: string) => void;
  /** Told which certificates each answer covered (the inventory's "last seen by OCSP"). */
  seen?: (subjects: readonly string[]) => void;
}) {
  return async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    const started = performance.now();
    let bytes: Buffer;
    try {
      bytes = await ocspRequestBytes(req, path);
    } catch (e) {
      if (e instanceof HttpRefusal) {
        res.writeHead(e.status, { 'Content-Type': 'text/plain', Connection: 'close' });
        return void res.end(`${e.message}\n`);
      }
      throw e;
    }
    const key = bytes.toString('base64');
    const cached = deps.cache.get(key);
    if (cached) {
      metrics.ocspCache.inc({ outcome: 'hit' });
      metrics.ocspSeconds.observe({ cache: 'hit' }, (performance.now() - started) / 1000);
      deps.seen?.(cached.subjects);
      return sendOcsp(req, res, cached, deps.clock);
    }
    const epoch = deps.cache.epoch();
    let answer: OcspAnswer;
    try {
      const pending = deps.answer(bytes, req.socket.remoteAddress);
      answer = pending instanceof Promise ? await pending : pending;
    } catch (e) {
      deps.log(`OCSP request failed: ${(e as Error).message}`);
      // RFC 6960 §4.2.1: tryLater when the responder cannot answer for now (its database), internalError else.
      answer = { der: ocspErrorResponse(isDatabaseUnavailable(e) ? OCSP_STATUS.tryLater : OCSP_STATUS.internalError), subjects: [], cacheable: false };
    }
    // A pre-signed answer is held in memory already: not cached again by request.
    if (!answer.preproduced) deps.cache.set(answer.cacheKey ?? key, answer, epoch);
    const outcome = answer.preproduced ? 'presigned' : 'miss';
    metrics.ocspCache.inc({ outcome });
    metrics.ocspSeconds.observe({ cache: outcome }, (performance.now() - started) / 1000);
    deps.seen?.(answer.subjects);
    sendOcsp(req, res, answer, deps.clock);
  };
}
