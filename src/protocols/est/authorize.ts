import type { IncomingMessage } from 'node:http';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import { checkEnrollmentToken, type EnrollmentToken } from '../../auth/enrollment-tokens.js';
import type { Db } from '../../store/db.js';
import { HallmarkError } from '../../errors.js';

export type EnrollmentCredential = { kind: 'token'; device: string; token: EnrollmentToken } | { kind: 'bootstrap'; device: string; serial: string };

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

/**
 * Who may enroll on this label: a one-time secret presented as HTTP Basic, or a TLS client
 * certificate that chains to a configured bootstrap (manufacturer) CA, whose CN is the device id.
 */
export async function enrollmentCredential(req: IncomingMessage, options: { db: Db; label: string; allowed: ('token' | 'bootstrap')[]; bootstrapCas: Uint8Array[]; now: Date }): Promise<EnrollmentCredential> {
  const header = req.headers.authorization;
  if (header) {
    const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
    if (!m || !options.allowed.includes('token')) throw challenge();
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 1) throw challenge();
    const device = decoded.slice(0, colon);
    const check = await checkEnrollmentToken(options.db, device, decoded.slice(colon + 1), options.label, options.now);
    if (!check.ok) throw new HallmarkError('enrollment_refused', check.reason, check.reason.includes('not valid') ? 401 : 403, check.reason.includes('not valid') ? { challenge: 'Basic realm="hallmark-est"' } : undefined);
    return { kind: 'token', device, token: check.token };
  }
  const socket = req.socket as TLSSocket;
  const chain = chainOf(socket);
  if (chain.length && socket.authorized && options.allowed.includes('bootstrap')) {
    const anchored = chain.some((c) => options.bootstrapCas.some((ca) => Buffer.from(ca).equals(c.raw)));
    if (anchored) {
      const cn = chain[0]!.subject?.CN;
      const device = Array.isArray(cn) ? cn[0] : cn;
      if (!device) throw new HallmarkError('enrollment_refused', 'the bootstrap certificate has no CN to name the device', 403);
      return { kind: 'bootstrap', device, serial: chain[0]!.serialNumber.toLowerCase() };
    }
    throw new HallmarkError('enrollment_refused', 'this client certificate is not from a bootstrap CA; renew with simplereenroll instead', 403);
  }
  throw challenge();
}
