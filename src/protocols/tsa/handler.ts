import type { IncomingMessage, ServerResponse } from 'node:http';
import { AsnConvert } from '@peculiar/asn1-schema';
import { ContentInfo } from '@peculiar/asn1-cms';
import { PKIStatus, PKIStatusInfo, TimeStampResp } from '@peculiar/asn1-tsp';
import type { Clock } from '../../base/clock.js';
import type { CaConfig } from '../../config/ca-config.js';
import { isDatabaseUnavailable } from '../../http/errors.js';
import { createRateLimiter } from '../../http/rate-limit.js';
import { readBody } from '../../http/read-body.js';
import type { LoadedSigner, SignerDeps } from '../../signing/signers.js';
import { recordedTimestamp } from '../../signing/tsa.js';
import { parseTimestampRequest, refuseTimestamp, TimestampRefusal } from '../../signing/timestamp.js';

const MAX_QUERY = 8 * 1024;

/**
 * POST /tsa (RFC 3161 §3.4): application/timestamp-query in, application/timestamp-reply out. Every
 * time-stamp is recorded (its serial unique by the table's key) before it is returned; a request that
 * cannot be granted is a TimeStampResp with status rejection, the reason and the failure bit.
 */
export function createTsaHandler(deps: { store: SignerDeps['store']; clock: Clock; config: CaConfig['tsa']; tsa: () => LoadedSigner | undefined; log: (line: string) => void }) {
  const limiter = createRateLimiter('tsa', deps.config.perMinute, deps.clock);
  const reply = (res: ServerResponse, status: number, body: Uint8Array, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'Content-Type': 'application/timestamp-reply', 'Content-Length': body.length, 'Cache-Control': 'no-store', ...headers });
    res.end(body);
  };
  const text = (res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(message) + 1, ...headers });
    res.end(`${message}\n`);
  };
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/timestamp-query') return text(res, 415, 'time-stamp requests are sent as application/timestamp-query (RFC 3161 §3.4)');
    const source = req.socket.remoteAddress ?? 'unknown';
    const retryAfter = limiter.take(source);
    if (retryAfter !== undefined) return text(res, 429, 'too many time-stamp requests from this address; retry later', { 'Retry-After': String(retryAfter), Connection: 'close' });
    let body: Buffer;
    try {
      body = await readBody(req, MAX_QUERY);
    } catch (e) {
      return text(res, 413, (e as Error).message, { Connection: 'close' });
    }
    const tsa = deps.tsa();
    if (!tsa) return reply(res, 503, refuseTimestamp('systemFailure', 'the time-stamping authority has no key yet'), { 'Retry-After': '5' });
    let request;
    try {
      request = parseTimestampRequest(body, deps.config.policy);
    } catch (e) {
      if (e instanceof TimestampRefusal) return reply(res, 200, refuseTimestamp(e.failure, e.message));
      throw e;
    }
    let token: Uint8Array;
    try {
      token = await recordedTimestamp({ ...deps, tsa }, { ...request, source });
    } catch (e) {
      // RFC 3161 clients read the reply: systemFailure in it, with the HTTP status a storage fault gets.
      if (isDatabaseUnavailable(e)) return reply(res, 503, refuseTimestamp('systemFailure', 'the time-stamp could not be recorded (database unavailable)'), { 'Retry-After': '5' });
      throw e;
    }
    return reply(res, 200, new Uint8Array(AsnConvert.serialize(new TimeStampResp({ status: new PKIStatusInfo({ status: PKIStatus.granted }), timeStampToken: AsnConvert.parse(token, ContentInfo) }))));
  };
}

