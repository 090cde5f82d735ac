import { timingSafeEqual } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { VerifiedCsr } from '../../x509/csr.js';
import { HallmarkError } from '../../base/errors.js';

/**
 * The channel bindings of a TLS connection, as an EST client puts them in its CSR's challengePassword
 * (RFC 7030 §3.5), base64: tls-unique (RFC 5929 §3.1: the first Finished message of the handshake, the
 * client's in a full handshake, the server's in a resumed one) on TLS 1.2, tls-exporter (RFC 9266: 32
 * bytes, label EXPORTER-Channel-Binding, empty context) on TLS 1.3, which has no tls-unique.
 */
export function channelBindings(socket: TLSSocket): Buffer[] {
  if (socket.getProtocol?.() === 'TLSv1.3') return [socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0))];
  const unique = socket.isSessionReused() ? socket.getFinished() : socket.getPeerFinished();
  return unique ? [unique] : [];
}

/** A challengePassword that is a channel binding: base64 of 12 bytes (TLS 1.2 verify_data) or 32 (tls-exporter). */
const BINDING = /^(?:[A-Za-z0-9+/]{16}|[A-Za-z0-9+/]{43}=)$/;

/**
 * RFC 7030 §3.5: a CSR that carries the connection's channel binding proves it was made for this TLS
 * connection (no relay of a CSR signed elsewhere). One that carries a binding of another connection is
 * refused; a label with `channelBinding: true` refuses a CSR without one. A challengePassword of
 * another shape is not a binding and is ignored where none is required.
 */
export function checkChannelBinding(csr: VerifiedCsr, socket: TLSSocket, required: boolean): void {
  const password = csr.challengePassword?.trim();
  if (password !== undefined && BINDING.test(password)) {
    const presented = Buffer.from(password, 'base64');
    if (channelBindings(socket).some((b) => b.length === presented.length && timingSafeEqual(b, presented))) return;
    throw new HallmarkError('channel_binding', "the CSR's challengePassword is not this TLS connection's channel binding (tls-unique on TLS 1.2, tls-exporter on TLS 1.3; RFC 7030 §3.5): make the CSR on the connection that sends it", 403);
  }
  if (required) {
    throw new HallmarkError('channel_binding', 'this EST label requires channel binding: put base64 of the connection\'s tls-exporter (TLS 1.3) or tls-unique (TLS 1.2) value in the CSR\'s challengePassword (RFC 7030 §3.5)', 403);
  }
}
