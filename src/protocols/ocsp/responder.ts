import { OcspLintRefusal, type OcspResponseSigner } from '../../ca/ocsp-signing.js';
import type { StatusRow } from '../../store/certificates.js';
import type { IssuerRegistry } from '../../ca/issuer.js';
import type { Clock } from '../../base/clock.js';
import type { RevocationConfig } from '../../config/ca-config.js';
import type { CertificateQueries } from '../../store/certificates.js';
import {
  encodeResponseData,
  MalformedOcspRequest,
  OCSP_STATUS,
  ocspErrorResponse,
  parseOcspRequest,
  plainSha1Request,
  type ParsedCertId,
  wrapOcspResponse,
  type SingleAnswer,
} from '../../x509/ocsp.js';
import { buildIssuerIndex, buildSha1IssuerMatcher } from './issuer-index.js';
import { createRateLimiter } from '../../http/rate-limit.js';
import { createBatcher } from '../../workers/batcher.js';
import { certificateStatusOf, responseWindow } from '../../ca/ocsp-status.js';
import { groupBy } from '../../base/group-by.js';
import { splitEvenly } from '../../base/split-evenly.js';

export interface OcspAnswer {
  der: Uint8Array;
  /** Set on signed answers: what HTTP caching and the response cache go by. */
  thisUpdate?: Date;
  nextUpdate?: Date;
  /** `ca:serial` of each certificate answered, for invalidation. */
  subjects: string[];
  /** False for answers that must not be reused (a nonce, an error). */
  cacheable: boolean;
  /** Where the cache keeps it when that is not the request's bytes (a request whose nonce was ignored). */
  cacheKey?: string;
  /** A pre-signed answer (held in memory already: not cached again by request). */
  preproduced?: boolean;
  /** Signed live for a request the pre-signed set answers: a pre-signed answer arriving later replaces it. */
  presignable?: boolean;
}

export interface OcspDeps {
  issuers: IssuerRegistry;
  certificates: CertificateQueries;
  /** Each CA's response signer (ca/ocsp-signing.ts): its responder's key hash, and linted signing. */
  signerFor: (ca: string) => OcspResponseSigner | undefined;
  clock: Clock;
  config: RevocationConfig['ocsp'];
  log: (line: string) => void;
  /** A cached answer by key (the response cache), for requests whose nonce is ignored. */
  cached?: (key: string) => OcspAnswer | undefined;
  /** The pre-signed answer for one certificate, when one is held (protocols/ocsp/presigned.ts). */
  presigned?: (ca: string, serial: string) => OcspAnswer | undefined;
}

interface LiveRequest {
  ca: string;
  located: { id: ParsedCertId; ca: string | undefined }[];
  nonce?: Uint8Array;
  cacheKey?: string;
  presignable: boolean;
  /** Called once, with this request's answer, as soon as its chunk is signed. */
  answered(answer: OcspAnswer): void;
}
/**
 * Live answers signed in one trip to the signing thread, at most: a batch goes as several trips posted
 * at once, and each trip's answers are written while the next is signed. Measured against one trip per
 * batch (docs/performance.md, "Answers as their chunk is signed"): 4 pays more in trips than it saves,
 * 8–32 answer 10–15% more live requests a second.
 */
export const SIGN_CHUNK = 16;
const error = (status: number): OcspAnswer => ({ der: ocspErrorResponse(status), subjects: [], cacheable: false });

/**
 * The live layer: parse, find the issuer, look the status up, sign with that CA's delegated
 * responder. One signed response answers every certificate of the request (all must share an issuer
 * we hold; certificates of another issuer among ours are answered `unknown`).
 */
export function createOcspResponder(deps: OcspDeps) {
  // Rebuilt when a rollover adds a CA generation.
  const indexNow = () => ({ version: deps.issuers.version(), lookup: buildIssuerIndex(deps.issuers), sha1: buildSha1IssuerMatcher(deps.issuers) });
  let index = indexNow();
  const current = () => (index.version === deps.issuers.version() ? index : (index = indexNow()));
  const issuerOf = (hash: string | undefined, nameHash: string, keyHash: string) => current().lookup(hash, nameHash, keyHash);
  // RFC 5019 §2.1.1's request, read by its layout: the pre-signed answer without walking the DER.
  const presignedByLayout = (der: Uint8Array): OcspAnswer | undefined => {
    const plain = plainSha1Request(der);
    const ca = plain && current().sha1(plain.issuerNameHash, plain.issuerKeyHash);
    return ca ? deps.presigned!(ca, plain.serial) : undefined;
  };

  // Nonce requests are signed for each request: how often one address may have that (RFC 8954 §4 warns of
  // exactly this load).
  const nonceLimiter = createRateLimiter('ocsp-nonce', deps.config.noncesPerMinute, deps.clock);

  /**
   * Live answers made in the same turn of the event loop are made together: their statuses in one
   * read, their signatures in trips of SIGN_CHUNK to the signing threads (the answers stay one per
   * request). Each request is answered (`answered`) as soon as its chunk is signed; the batch holds its
   * place among the two in flight until every chunk is.
   */
  async function answerMany(items: LiveRequest[]): Promise<undefined[]> {
    const serials = [...new Set(items.flatMap((item) => item.located.map((l) => l.id.serial)))];
    const rows = new Map((await deps.certificates.statuses(serials)).map((row) => [row.serial, row]));
    const now = deps.clock.now();
    const { thisUpdate, nextUpdate } = responseWindow(now.getTime(), deps.config.validityMinutes);
    await Promise.all(
      [...groupBy(items, (item) => item.ca)].map(async ([ca, group]) => {
        // The responder of the moment: key hash and signature from the same one.
        const signer = deps.signerFor(ca);
        if (!signer) return group.forEach((item) => item.answered(error(OCSP_STATUS.tryLater)));
        // In chunks sent together: the signing thread answers each chunk as it is done, and its answers
        // go out while the next chunk is signed (a request waits for its chunk, not for the whole batch).
        await Promise.all(splitEvenly(group, Math.ceil(group.length / SIGN_CHUNK)).map((chunk) => signChunk(ca, signer, chunk, rows, now, thisUpdate, nextUpdate)));
      }),
    );
    return items.map(() => undefined);
  }

  async function signChunk(ca: string, signer: OcspResponseSigner, chunk: LiveRequest[], rows: Map<string, StatusRow>, now: Date, thisUpdate: Date, nextUpdate: Date): Promise<void> {
    const tbs = chunk.map((item) => {
      const singles: SingleAnswer[] = item.located.map((l) => ({ certId: l.id.certId, status: l.ca ? certificateStatusOf(rows.get(l.id.serial), ca) : { status: 'unknown' } }));
      return encodeResponseData({ responderKeyHash: signer.keyHash, producedAt: thisUpdate, thisUpdate, nextUpdate, answers: singles, nonce: item.nonce });
    });
    let signed: (Uint8Array | OcspLintRefusal)[];
    try {
      signed = await signer.signMany(tbs, now);
    } catch (e) {
      deps.log(`OCSP signing failed: ${(e as Error).message}`);
      return chunk.forEach((item) => item.answered(error(OCSP_STATUS.tryLater)));
    }
    chunk.forEach((item, i) => {
      const der = signed[i]!;
      if (der instanceof OcspLintRefusal) {
        deps.log(`OCSP response refused by lint: ${der.message}`);
        item.answered(error(OCSP_STATUS.internalError));
      } else {
        item.answered({ der: wrapOcspResponse(der, signer.certificate), thisUpdate, nextUpdate, subjects: item.located.map((l) => `${ca}:${l.id.serial}`), cacheable: !item.nonce, cacheKey: item.cacheKey, presignable: item.presignable });
      }
    });
  }
  const live = createBatcher<LiveRequest, undefined>(answerMany, { maxBatch: 256, concurrency: 2 });

  // Not async: an answer held in memory (pre-signed, or cached without the nonce) is returned at once,
  // without a promise per request; only live signing is awaited.
  return function answer(requestDer: Uint8Array, source = 'unknown'): OcspAnswer | Promise<OcspAnswer> {
    const held = deps.presigned && presignedByLayout(requestDer);
    if (held) return held;
    let parsed;
    try {
      parsed = parseOcspRequest(requestDer);
    } catch (e) {
      if (e instanceof MalformedOcspRequest) return error(OCSP_STATUS.malformedRequest);
      throw e;
    }
    let cacheKey: string | undefined;
    if (parsed.nonce && deps.config.nonces === 'ignore') {
      // RFC 8954 §3: the responder may leave the nonce out; then the answer is the same for everyone
      // asking about these certificates, kept under a key without the nonce.
      parsed = { ...parsed, nonce: undefined };
      cacheKey = `nonce-ignored:${parsed.certIds.map((c) => Buffer.from(c.certId).toString('base64')).join(',')}`;
      const kept = deps.cached?.(cacheKey);
      if (kept) return kept;
    } else if (parsed.nonce && nonceLimiter.take(source) !== undefined) return error(OCSP_STATUS.tryLater);
    const located = parsed.certIds.map((id) => ({ id, ca: issuerOf(id.hash, id.issuerNameHash, id.issuerKeyHash) }));
    const ours = [...new Set(located.map((l) => l.ca).filter((ca): ca is string => ca !== undefined))];
    // RFC 6960 §2.3: unauthorized when we cannot answer for this issuer; one response has one signer.
    if (ours.length !== 1) return error(OCSP_STATUS.unauthorized);
    const ca = ours[0]!;
    // RFC 5019 §2.1.1: one certificate, a SHA-1 CertID, no nonce: the pre-produced response, when held.
    const presignable = !!deps.presigned && !parsed.nonce && located.length === 1 && located[0]!.id.hash === 'sha1';
    if (presignable) {
      const preproduced = deps.presigned!(ca, located[0]!.id.serial);
      if (preproduced) return preproduced;
    }
    if (!deps.signerFor(ca)) return error(OCSP_STATUS.tryLater);

    return new Promise<OcspAnswer>((answered, failed) => {
      // A batch that fails before its answers (the status read) fails each of its requests.
      live.submit({ ca, located, nonce: parsed.nonce, cacheKey, presignable, answered }).catch(failed);
    });
  };
}
