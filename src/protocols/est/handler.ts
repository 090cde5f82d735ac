import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { CaConfig } from '../../config/ca-config.js';
import type { Clock } from '../../base/clock.js';
import { requireCsrIdentity } from '../../ca/enroll.js';
import type { Enroller } from '../../ca/enrollment.js';
import type { EnrollmentPorts } from './ports.js';
import { principalFromCertificate } from '../../http/client-certificates.js';
import { verifyCsr, type VerifiedCsr } from '../../x509/csr.js';
import { certsOnly } from '../../x509/pkcs7.js';
import { generateServerKey, serverKeyType } from '../../x509/server-keys.js';
import { csrAttributes } from '../../x509/csr-attributes.js';
import { normalizeSerial } from '../../x509/serial.js';
import { HallmarkError, isHallmarkError } from '../../base/errors.js';
import { enrollmentCredential, type EnrollmentCredential } from './authorize.js';
import { checkChannelBinding } from './channel-binding.js';
import type { EnrollmentRequestRow } from '../../store/enrollments.js';
import { publicKeyId } from '../../x509/key-id.js';
import { encryptedKeyPackage, recipientProblem, type KeyPackageSigner } from './encrypted-key.js';

/** 202 Accepted with Retry-After (RFC 7030 §4.2.3): the request is held for an operator's approval. */
function sendHeld(res: ServerResponse, held: EnrollmentRequestRow, retryAfterSeconds: number): void {
  const text = Buffer.from(`enrollment request ${held.id} awaits an operator's approval; repeat it after ${retryAfterSeconds} s\n`, 'utf8');
  res.writeHead(202, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': text.length, 'Retry-After': String(retryAfterSeconds) });
  res.end(text);
}
import { base64Lines, decodeBase64Body, sendAsIs, sendBase64, sendPkcs7 } from './encoding.js';
import { metrics } from '../../observability/metrics.js';
import type { RateLimiter } from '../../http/rate-limit.js';
import type { AuthFailureGuard } from '../../alerts/auth-failures.js';
import type { DenialAudit } from '../../audit/denials.js';
import { readBody } from '../../http/read-body.js';
import { databaseUnavailable, isDatabaseUnavailable } from '../../http/errors.js';
import { STORAGE_RETRY_AFTER_SECONDS } from '../../store/faults.js';
import { setSecurityHeaders } from '../../http/security-headers.js';

export interface EstDeps {
  /** What enrollment needs from the CA (ports.ts), built by the composition root. */
  ports: EnrollmentPorts;
  clock: Clock;
  /** The EST labels, bootstrap CAs and renewal policy, and the profiles the labels name. */
  config: Pick<CaConfig, 'est' | 'profiles'>;
  enrollmentLimit: RateLimiter;
  /** Failed secrets are counted (blocks) and audited (repeats folded). */
  guard: AuthFailureGuard;
  denials: Pick<DenialAudit, 'record'>;
  /** Writes the request's log line when its response finishes (http/request-log.ts). */
  logRequest: (req: IncomingMessage, res: ServerResponse) => void;
  log: (line: string) => void;
  /** Signs server-generated keys returned encrypted (RFC 7030 §4.4.2): the HTTPS key and chain. */
  keyPackageSigner: () => KeyPackageSigner;
}

/**
 * The certificate a server-generated key is encrypted to (RFC 7030 §4.4.1): only asymmetric
 * identifiers, naming the client certificate this request authenticated with; Hallmark holds no
 * symmetric key-encryption keys for devices.
 */
function keyRecipient(decryptKey: NonNullable<VerifiedCsr['decryptKey']>, credential: EnrollmentCredential): Uint8Array {
  if (decryptKey.kind === 'symmetric')
    throw new HallmarkError('decrypt_key_unknown', 'no symmetric key is provisioned for DecryptKeyIdentifier (RFC 7030 §4.4.1.1); name your client certificate\'s key with AsymmetricDecryptKeyIdentifier (§4.4.1.2), or leave both out to receive the key protected by TLS alone', 400);
  const certificate = credential.kind === 'bootstrap' ? credential.certificate : undefined;
  const problem = recipientProblem(certificate, decryptKey.id);
  if (problem) throw new HallmarkError('decrypt_key_unknown', problem, 400);
  return certificate!;
}

/** Where EST lives on the HTTPS listener (RFC 7030 §3.2.2). */
export const EST_PREFIX = '/.well-known/est';
const OPERATIONS = new Set(['cacerts', 'simpleenroll', 'simplereenroll', 'csrattrs', 'serverkeygen']);
/** The methods each operation takes (RFC 7030 §3.2.2; GET answers HEAD too), for 405's Allow (RFC 9110 §15.5.6). */
const allowFor = (op: string) => (op === 'cacerts' || op === 'csrattrs' ? 'GET, HEAD' : 'POST');
const methodNotAllowed = (op: string, method: string) =>
  new HallmarkError('method_not_allowed', `${op} takes ${allowFor(op).replace(', ', ' or ')}, not ${method}`, 405, { allow: allowFor(op) });
/** A base64 PKCS#10 request is a few KiB at most. */
const BODY_LIMIT = 64 * 1024;

export const isEstPath = (url: string | undefined) => url !== undefined && url.startsWith(EST_PREFIX) && (url.length === EST_PREFIX.length || url[EST_PREFIX.length] === '/' || url[EST_PREFIX.length] === '?');

/** `/.well-known/est/<op>` is label `default`; `/.well-known/est/<label>/<op>` any configured label (RFC 7030 §3.2.2). */
function route(path: string, config: Pick<CaConfig, 'est' | 'profiles'>) {
  const parts = path.slice(EST_PREFIX.length).split('/').filter(Boolean);
  const [label, op] = parts.length === 1 ? ['default', parts[0]!] : parts.length === 2 ? [parts[0]!, parts[1]!] : ['', ''];
  if (!OPERATIONS.has(op)) throw new HallmarkError('not_found', `no EST operation ${path.slice(EST_PREFIX.length) || '/'}`, 404);
  const settings = config.est.labels[label];
  if (!settings) throw new HallmarkError('not_found', `no EST label "${label}"`, 404);
  return { label, op, settings, profile: config.profiles.get(settings.profile)! };
}

/** The media type without parameters, as `type-is` compares it. */
function requireContentType(req: IncomingMessage, type: string): void {
  const sent = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (sent !== type) throw new HallmarkError('unsupported_media_type', `send ${type} (base64 DER)`, 415);
}

const actorOf = (credential: EnrollmentCredential) => (credential.kind === 'token' ? `est:token:${credential.token.id}` : `est:bootstrap:${credential.serial}`);

/**
 * EST (RFC 7030, with RFC 8951's clarifications) for one CA's labels: base64 in, base64 PKCS#7 out;
 * who may enroll decided per label; errors as text/plain with the reason.
 *
 * A plain node:http handler in front of the Express application: devices enroll at thousands a second,
 * and Express's router, middleware chain and body parser cost a third of an enrollment's server CPU
 * (docs/issuance-performance.md). It keeps what the Express side gives every request: the request
 * log line, the security headers, the enrollment rate limit and the latency metric.
 */
export function createEstHandler(deps: EstDeps): (req: IncomingMessage, res: ServerResponse) => void {
  // RFC 7030 §4.1.3: the current set, kept between requests (cacerts.ts); as fresh as the status poll.
  
  async function get(path: string, res: ServerResponse): Promise<void> {
    const { op, profile } = route(path, deps.config);
    // With the root key update certificates while two roots overlap (RFC 7030 §4.1.3).
    if (op === 'cacerts') return sendPkcs7(res, await deps.ports.cacerts(profile.issuer));
    if (op === 'csrattrs') {
      const attrs = csrAttributes(profile.keyTypes[0]);
      if (!attrs) return void res.writeHead(204).end();
      return sendBase64(res, 'application/csrattrs', attrs);
    }
    throw methodNotAllowed(op, 'GET');
  }

  async function post(req: IncomingMessage, path: string, res: ServerResponse): Promise<void> {
    const source = req.socket.remoteAddress;
    const retryAfter = deps.enrollmentLimit.take(source ?? 'unknown');
    if (retryAfter !== undefined) throw new HallmarkError('rate_limited', 'too many enrollment requests from this address; retry later', 429, { retryAfter });
    const body = await readBody(req, BODY_LIMIT);
    const { label, op, settings, profile } = route(path, deps.config);
    if (op === 'cacerts' || op === 'csrattrs') throw methodNotAllowed(op, 'POST');
    requireContentType(req, 'application/pkcs10');
    const now = deps.clock.now();

    if (op === 'simplereenroll') {
      // RFC 7030 §4.2.2: the client authenticates with the certificate it renews.
      const check = await principalFromCertificate(req.socket as TLSSocket, { get: deps.ports.certificate }, deps.config.profiles, now);
      if (!check) throw new HallmarkError('unauthenticated', 'simplereenroll needs the current certificate as the TLS client certificate', 401, { challenge: 'Basic realm="hallmark-est"' });
      if (!check.ok) throw new HallmarkError('renewal_refused', check.reason, 403);
      const current = await deps.ports.certificate(normalizeSerial(check.principal.id)!);
      const csr = await verifyCsr(decodeBase64Body(body));
      checkChannelBinding(csr, req.socket as TLSSocket, settings.channelBinding);
      const issued = await deps.ports.renew({ csr, current: current!, actor: `est:certificate:${current!.serial}`, source });
      return sendPkcs7(res, certsOnly([issued.der]));
    }

    const credential = await enrollmentCredential(req, { checkSecret: deps.ports.checkSecret, guard: deps.guard, denials: deps.denials, label, allowed: settings.enroll, bootstrapCas: deps.config.est.bootstrapCaCertificates, now });
    const csr = await verifyCsr(decodeBase64Body(body));
    checkChannelBinding(csr, req.socket as TLSSocket, settings.channelBinding);
    requireCsrIdentity(csr, credential.device);

    // RFC 7030 §4.2.3: a label with manual approval holds the request (202, Retry-After) until an
    // operator decides; the device repeats it and gets its certificate once approved.
    let held: EnrollmentRequestRow | undefined;
    if (settings.manualApproval) {
      held = await deps.ports.hold({ label, device: credential.device, keyId: publicKeyId(csr.spkiDer), subject: csr.subject, actor: actorOf(credential), source, now });
      if (held.status === 'pending') return sendHeld(res, held, settings.retryAfterSeconds);
      if (held.status === 'rejected') throw new HallmarkError('enrollment_rejected', `enrollment request ${held.id} was rejected by ${held.decided_by}${held.reason ? `: ${held.reason}` : ''}`, 403);
      if (held.status === 'issued' && held.certificate_serial) {
        const row = await deps.ports.certificate(held.certificate_serial);
        if (row?.der && op === 'simpleenroll') return sendPkcs7(res, certsOnly([new Uint8Array(row.der)]));
        throw new HallmarkError('already_issued', `enrollment request ${held.id} was issued already (${held.certificate_serial})`, 409);
      }
    }
    const enroller: Enroller = credential.kind === 'token' ? { device: credential.device, secretId: credential.token.id } : { device: credential.device };
    const enroll = (forCsr: VerifiedCsr) => deps.ports.enroll({ enroller, csr: forCsr, profile: profile.name, actor: actorOf(credential), source, heldRequest: held?.id });

    if (op === 'simpleenroll') {
      const issued = await enroll(csr);
      return sendPkcs7(res, certsOnly([issued.der]));
    }

    // serverkeygen (RFC 7030 §4.4): the key is made here, of the type the CSR's key has when the
    // profile allows it, returned once over TLS (and, when the request names a key, encrypted to it
    // too), and never stored. Whom to encrypt to is settled before anything is issued.
    const encryptTo = csr.decryptKey && keyRecipient(csr.decryptKey, credential);
    const keyType = serverKeyType(csr, profile.keyTypes);
    const { privateKey, publicKey } = await generateServerKey(keyType);
    const spkiDer = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
    const forServerKey: VerifiedCsr = { ...csr, spkiDer, keyType };
    const issued = await enroll(forServerKey);
    await deps.ports.audit({ actor: actorOf(credential), action: 'certificate.serverkeygen', target: issued.serial, outcome: 'success', source, details: { device: credential.device, keyType, keyStored: false } });
    const boundary = `hallmark-est-${issued.serial}`;
    const part = (type: string, der: Uint8Array) => `--${boundary}\r\nContent-Type: ${type}\r\nContent-Transfer-Encoding: base64\r\n\r\n${base64Lines(der)}`;
    const pkcs8 = new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' }));
    // RFC 7030 §4.4.2: the plain key as application/pkcs8, or the signed and enveloped key package as
    // application/pkcs7-mime with smime-type server-generated-key.
    const keyPart = encryptTo
      ? part('application/pkcs7-mime; smime-type=server-generated-key', await encryptedKeyPackage(pkcs8, deps.keyPackageSigner(), encryptTo, now))
      : part('application/pkcs8', pkcs8);
    sendAsIs(res, { 'Content-Type': `multipart/mixed; boundary=${boundary}` }, keyPart + part('application/pkcs7-mime; smime-type=certs-only', certsOnly([issued.der])) + `--${boundary}--\r\n`);
  }

  /** Reads what is left of a request body and drops it, then answers: at most 1 MiB or 5 seconds. */
  function drainThen(req: IncomingMessage, answer: () => void): void {
    if (req.complete) return answer();
    let dropped = 0;
    const done = () => {
      clearTimeout(timer);
      req.removeListener('data', count);
      answer();
    };
    const count = (chunk: Buffer) => {
      dropped += chunk.length;
      if (dropped > 1024 * 1024) done();
    };
    const timer = setTimeout(done, 5000);
    req.on('data', count);
    req.once('end', done);
    req.once('error', done);
    req.resume();
  }

  function fail(err: unknown, res: ServerResponse): void {
    if (res.headersSent) return void res.destroy();
    const fault = !isHallmarkError(err) && isDatabaseUnavailable(err);
    const { status, message } = isHallmarkError(err) ? err : fault ? databaseUnavailable(err) : { status: 500, message: 'internal error' };
    if (fault) res.setHeader('Retry-After', String(STORAGE_RETRY_AFTER_SECONDS));
    if (isHallmarkError(err) && typeof err.details?.challenge === 'string') res.setHeader('WWW-Authenticate', err.details.challenge);
    if (isHallmarkError(err) && typeof err.details?.retryAfter === 'number') res.setHeader('Retry-After', String(err.details.retryAfter));
    if (isHallmarkError(err) && typeof err.details?.allow === 'string') res.setHeader('Allow', err.details.allow);
    if (status === 500) deps.log(`EST error: ${(err as Error)?.stack ?? err}`);
    const text = Buffer.from(`${message}\n`, 'utf8');
    const answer = () => {
      if (res.writableEnded || res.destroyed) return;
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': text.length });
      res.end(text);
    };
    if (status !== 413) return answer();
    // A refused body is not kept, and the connection closes after the answer. The rest of the body is
    // read and dropped first (up to a bound): a socket closed while the client still sends is reset,
    // and the client never reads the 413 (RFC 9112 §9.6, tear-down).
    res.shouldKeepAlive = false;
    drainThen(res.req, answer);
  }

  return (req, res) => {
    deps.logRequest(req, res);
    setSecurityHeaders(res);
    const path = (req.url ?? '/').split('?')[0]!;
    let answer: Promise<void>;
    if (req.method === 'GET' || req.method === 'HEAD') answer = get(path, res);
    else if (req.method === 'POST') {
      // Enrollment latency by operation and status; any other path is one label, so that requests to
      // made-up paths cannot create series without end.
      const stop = metrics.enrollmentSeconds.startTimer();
      const op = path.split('/').filter(Boolean).pop() ?? '';
      res.on('finish', () => stop({ operation: `est:${OPERATIONS.has(op) ? op : 'unknown'}`, status: String(res.statusCode) }));
      answer = post(req, path, res);
    } else {
      // 404 for a path that is no operation; 405 with the operation's own methods otherwise.
      answer = new Promise<void>((_, reject) => reject(methodNotAllowed(route(path, deps.config).op, req.method ?? '?')));
    }
    answer.catch((err: unknown) => fail(err, res));
  };
}
