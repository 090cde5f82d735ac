import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditLog } from '../audit/log.js';
import type { Clock } from '../base/clock.js';
import type { CaConfig } from '../config/ca-config.js';
import { isDatabaseUnavailable } from '../http/errors.js';
import { createRateLimiter } from '../http/rate-limit.js';
import { readBody } from '../http/read-body.js';
import { createSigner, loadSignerRow, type LoadedSigner, type SignerDeps } from '../signing/signers.js';
import { findCertificate } from '../store/certificates.js';
import { insertTimestamp, newestTsaSigner, type SignerRow } from '../store/signing.js';
import { isUniqueViolation } from '../store/unique-violation.js';
import { AsnConvert } from '@peculiar/asn1-schema';
import { ContentInfo } from '@peculiar/asn1-cms';
import { PKIStatus, PKIStatusInfo, TimeStampResp, type MessageImprint } from '@peculiar/asn1-tsp';
import { parseTimestampRequest, refuseTimestamp, TimestampRefusal, timestampSerial, timestampToken } from './timestamp.js';

const MAX_QUERY = 8 * 1024;

/**
 * The time-stamping authority's signer: the newest `tsa` signer, or a new one (key on the token,
 * certificate under the `tsa` profile) when there is none, the newest has entered the last third of its
 * life (as OCSP responders renew), is revoked, or its CA no longer issues (rollover, compromise); earlier time-stamps stay verifiable with their own certificate.
 */
export async function ensureTsa(deps: SignerDeps & { audit: AuditLog; clock: Clock }, log: (line: string) => void): Promise<LoadedSigner> {
  const now = deps.clock.now().getTime();
  const newest = await newestTsaSigner(deps.store);
  if (newest && now < Number(newest.not_after) - (Number(newest.not_after) - Number(newest.not_before)) / 3 && (await stillCurrent(deps, newest))) return loadSignerRow(deps, newest);
  const name = `tsa-${new Date(now).toISOString().slice(0, 10).replaceAll('-', '')}-${now.toString(36)}`;
  const row = await createSigner(deps, { name, purpose: 'tsa', requester: { kind: 'system' }, actor: 'system:tsa' });
  log(`time-stamping authority: new certificate ${row.serial}, valid until ${new Date(Number(row.not_after)).toISOString()}`);
  return loadSignerRow(deps, row);
}

/** Its certificate is not revoked and its CA is the generation that issues now (a rollover or a compromise gives a new one). */
async function stillCurrent(deps: SignerDeps, row: SignerRow): Promise<boolean> {
  const certificate = await findCertificate(deps.store, row.serial);
  if (certificate?.status === 'revoked') return false;
  const profile = deps.issue.profiles.get('tsa');
  return !profile || deps.issue.issuers.get(profile.issuer).name === row.ca;
}

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
      token = await recordedTimestamp({ ...deps, tsa }, { messageImprint: request.messageImprint, nonce: request.nonce, certReq: request.certReq, hashAlgorithm: request.hashAlgorithm, imprint: request.imprint, source });
    } catch (e) {
      // RFC 3161 clients read the reply: systemFailure in it, with the HTTP status a storage fault gets.
      if (isDatabaseUnavailable(e)) return reply(res, 503, refuseTimestamp('systemFailure', 'the time-stamp could not be recorded (database unavailable)'), { 'Retry-After': '5' });
      throw e;
    }
    return reply(res, 200, new Uint8Array(AsnConvert.serialize(new TimeStampResp({ status: new PKIStatusInfo({ status: PKIStatus.granted }), timeStampToken: AsnConvert.parse(token, ContentInfo) }))));
  };
}

/**
 * A time-stamp token, recorded first (serial, time, imprint, who asked: the table's key keeps serials
 * unique; a collision draws another serial).
 */
export async function recordedTimestamp(
  deps: { store: SignerDeps['store']; clock: Clock; config: CaConfig['tsa']; tsa: LoadedSigner },
  input: { messageImprint: MessageImprint; nonce?: ArrayBuffer; certReq: boolean; hashAlgorithm: string; imprint: Uint8Array; source: string | null },
): Promise<Uint8Array> {
  const genTime = new Date(Math.floor(deps.clock.now().getTime() / 1000) * 1000);
  for (let attempt = 0; ; attempt++) {
    const serial = timestampSerial();
    try {
      await insertTimestamp(deps.store, { serial: Buffer.from(serial).toString('hex'), gen_time: genTime.getTime(), hash_algorithm: input.hashAlgorithm, imprint: Buffer.from(input.imprint).toString('hex'), signer: deps.tsa.row.name, source: input.source });
    } catch (e) {
      if (isUniqueViolation(e) && attempt < 3) continue;
      throw e;
    }
    return timestampToken({ ...input, policy: deps.config.policy, serial, genTime, accuracySeconds: deps.config.accuracySeconds, tsa: deps.tsa });
  }
}

/** The current time-stamping signer from the store (for a process that does not serve /tsa: the CLI). */
export async function currentTsa(deps: SignerDeps): Promise<LoadedSigner | undefined> {
  const row = await newestTsaSigner(deps.store);
  return row ? loadSignerRow(deps, row) : undefined;
}
