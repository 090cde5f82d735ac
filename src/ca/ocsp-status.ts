import type { StatusRow } from '../store/certificates.js';
import { REASON_CODES, type ReasonName } from '../x509/revocation-reasons.js';
import type { CertificateStatus } from '../x509/ocsp.js';

/**
 * What OCSP says about a certificate of `ca` from its row: unknown when we never issued it (or only
 * reserved its serial), revoked with its time and reason, good otherwise (RFC 6960 §2.2).
 */
export function certificateStatusOf(row: StatusRow | undefined, ca: string): CertificateStatus {
  if (!row || row.issuer !== ca || row.status === 'pending' || row.status === 'failed') return { status: 'unknown' };
  if (row.status !== 'revoked') return { status: 'good' };
  const code = REASON_CODES[row.revocation_reason as ReasonName];
  // RFC 5280 §5.3.1: leave the reason out rather than say "unspecified".
  return { status: 'revoked', revokedAt: new Date(Number(row.revoked_at)), reasonCode: code ? code : undefined };
}

/** thisUpdate (whole seconds: RFC 6960 times carry no fractions) and nextUpdate of a response signed at `now`. */
export function responseWindow(now: number, validityMinutes: number): { thisUpdate: Date; nextUpdate: Date } {
  const thisUpdate = new Date(Math.floor(now / 1000) * 1000);
  return { thisUpdate, nextUpdate: new Date(thisUpdate.getTime() + validityMinutes * 60_000) };
}
