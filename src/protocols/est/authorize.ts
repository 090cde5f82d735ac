import type { IncomingMessage } from 'node:http';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import type { EnrollmentToken } from '../../auth/enrollment-tokens.js';
import type { EnrollmentPorts } from './ports.js';
import type { AuthFailureGuard } from '../../alerts/auth-failures.js';
import type { DenialAudit } from '../../audit/denials.js';
import { HallmarkError } from '../../base/errors.js';

export type EnrollmentCredential = { kind: 'token'; device: string; token: EnrollmentToken } | { kind: 'bootstrap'; device: string; serial: string; certificate: Uint8Array };

const challenge = () => new HallmarkError('unauthenticated', 'EST enrollment needs HTTP Basic <device id>:<enrollment secret> or a manufacturer (bootstrap) client certificate', 401, { challenge: 'Basic realm="hallmark-est"' });

/**
 * The chain a connection's client presented, read once per connection: it cannot change on it (no
 * renegotiation: TLS 1.3 has none, and the listener refuses it for 1.2), and getPeerCertificate(true)
 * decodes every certificate of the chain with its fingerprints on each call.
 */
const chains = new WeakMap<TLSSocket, DetailedPeerCertificate[]>();
function chainOf(socket: TLSSocket): DetailedPeerCertificate[] {
  let chain = chains.get(socket);
  if (!chain) chains.set(socket, (chain = readChain(socket)));
  return chain;
}

/** The chain the client presented, up to the trust anchor Node verified it against. */
function readChain(socket: TLSSocket): DetailedPeerCertificate[] {
  const chain: DetailedPeerCertificate[] = [];
  let cert = socket.getPeerCertificate?.(true) as DetailedPeerCertificate | undefined;
  while (cert && cert.raw && !chain.includes(cert)) {
    chain.push(cert);
    if (!cert.issuerCertificate || cert.issuerCertificate === cert) break;
    cert = cert.issuerCertificate;
  }
  return chain;
}

/** What checking an enrollment secret needs beyond the database: failures are counted and audited. */
export interface AttemptDeps {
  checkSecret: EnrollmentPorts['checkSecret'];
  guard: AuthFailureGuard;
  denials: Pick<DenialAudit, 'record'>;
}

/**
 * A device's one-time secret, checked as every credential is (docs/security-model.md, "Authentication failures"): a
 * device blocked from this address (or everywhere) is refused with 429 before its secret is read; a
 * wrong secret counts against the device when it names a real token, else against the address, and is
 * audited (repeats folded).
 */
export async function checkSecretAttempt(deps: AttemptDeps, attempt: { device: string; secret: string; label: string; source: string; now: Date; target: string }): Promise<EnrollmentToken> {
  // The device id is whatever the client wrote before the colon: bounded before it names anything.
  const actor = `est:${attempt.device.slice(0, 100)}`;
  const subject = { source: attempt.source, credential: actor };
  const wait = deps.guard.blockedFor(subject, attempt.now);
  if (wait) throw new HallmarkError('blocked', 'too many failed enrollments for this device; retry later, or ask an operator to lift the block (hallmark security blocks)', 429, { retryAfter: wait });
  const check = await deps.checkSecret(attempt.device, attempt.secret, attempt.label, attempt.now);
  if (check.ok) return check.token;
  deps.guard.recordFailure(check.known ? subject : { source: attempt.source }, attempt.now);
  await deps.denials.record({ actor, action: 'auth.failure', target: attempt.target, outcome: 'failure', source: attempt.source, details: { reason: check.reason } });
  const notValid = check.reason.includes('not valid');
  throw new HallmarkError('enrollment_refused', check.reason, notValid ? 401 : 403, notValid ? { challenge: 'Basic realm="hallmark-est"' } : undefined);
}

/**
 * Who may enroll on this label: a one-time secret presented as HTTP Basic, or a TLS client
 * certificate that chains to a configured bootstrap (manufacturer) CA, whose CN is the device id.
 */
export async function enrollmentCredential(req: IncomingMessage, options: AttemptDeps & { label: string; allowed: ('token' | 'bootstrap')[]; bootstrapCas: Uint8Array[]; now: Date }): Promise<EnrollmentCredential> {
  const header = req.headers.authorization;
  if (header) {
    const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
    if (!m || !options.allowed.includes('token')) throw challenge();
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 1) throw challenge();
    const device = decoded.slice(0, colon);
    const token = await checkSecretAttempt(options, { device, secret: decoded.slice(colon + 1), label: options.label, source: req.socket.remoteAddress ?? 'unknown', now: options.now, target: `EST ${options.label}` });
    return { kind: 'token', device, token };
  }
  const socket = req.socket as TLSSocket;
  const chain = chainOf(socket);
  if (chain.length && socket.authorized && options.allowed.includes('bootstrap')) {
    const anchored = chain.some((c) => options.bootstrapCas.some((ca) => Buffer.from(ca).equals(c.raw)));
    if (anchored) {
      const cn = chain[0]!.subject?.CN;
      const device = Array.isArray(cn) ? cn[0] : cn;
      if (!device) throw new HallmarkError('enrollment_refused', 'the bootstrap certificate has no CN to name the device', 403);
      return { kind: 'bootstrap', device, serial: chain[0]!.serialNumber.toLowerCase(), certificate: new Uint8Array(chain[0]!.raw) };
    }
    throw new HallmarkError('enrollment_refused', 'this client certificate is not from a bootstrap CA; renew with simplereenroll instead', 403);
  }
  throw challenge();
}
