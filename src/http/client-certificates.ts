import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { Profile } from '../profiles/schema.js';
import type { CertificateQueries } from '../store/certificates.js';
import { normalizeSerial } from '../x509/serial.js';
import type { Principal } from '../auth/principal.js';

/** `known`: the certificate is one of ours (a failure then counts against it, not only its address). */
export type CertificateCheck = { ok: true; principal: Principal } | { ok: false; reason: string; serial?: string; known?: boolean } | undefined;

/**
 * A TLS client certificate that chains to one of our CAs (Node verified it against them) and is
 * recorded as active and unexpired authenticates in the role its profile grants. Undefined when
 * the client sent none.
 */
export async function principalFromCertificate(socket: TLSSocket, certificates: Pick<CertificateQueries, 'get'>, profiles: Map<string, Profile>, now: Date): Promise<CertificateCheck> {
  const peer = socket.getPeerCertificate?.() as PeerCertificate | undefined;
  if (!peer || !peer.serialNumber) return undefined;
  if (!socket.authorized) return { ok: false, reason: `client certificate not trusted (${socket.authorizationError})` };
  const serial = normalizeSerial(peer.serialNumber);
  const row = serial ? await certificates.get(serial) : undefined;
  if (!row || !row.der || !Buffer.from(row.der).equals(peer.raw)) return { ok: false, reason: 'client certificate was not issued here', serial };
  if (row.status !== 'active') return { ok: false, reason: `client certificate is ${row.status}`, serial, known: true };
  if (Number(row.not_after) <= now.getTime()) return { ok: false, reason: 'client certificate has expired', serial, known: true };
  const role = profiles.get(row.profile)?.role;
  if (!role) return { ok: false, reason: `certificates of profile ${row.profile} do not authenticate`, serial, known: true };
  return { ok: true, principal: { kind: 'certificate', id: row.serial, name: row.identity ?? row.subject, role, scopes: null, expiresAt: new Date(Number(row.not_after)) } };
}
