import type { Permission } from '../auth/permissions.js';
import type { Principal } from '../auth/principal.js';
import type { Role } from '../auth/roles.js';
import type { Profile } from './schema.js';

/**
 * Who asks for a certificate, as issuance policy sees it. Every path that issues names one (the type
 * makes it required), and the profile's `requesters` say which may ask for it (rules/requester-allowed.ts).
 */
export type Requester =
  /** A REST principal: an API key, an operator session, or a client certificate that grants a role. */
  | { kind: 'apikey' | 'session' | 'certificate'; role: Role; scopes: readonly Permission[] | null; expiresAt: Date | null }
  /** A device enrolling with its one-time secret or its manufacturer certificate (EST, `/api/v1/enroll`). */
  | { kind: 'enrollment' }
  /** A certificate renewing itself (EST simplereenroll, `/api/v1/renew`). */
  | { kind: 'renewal' }
  /** A provisioning station on the factory line. */
  | { kind: 'station' }
  /** The local `hallmark` CLI, which holds the token PIN and the database: the CA's own operator. */
  | { kind: 'cli' }
  /** Hallmark itself: its OCSP responders, its TLS listener, station credentials made under `station.manage`, re-issue after a CA compromise. */
  | { kind: 'system' };

export type RequesterKind = Requester['kind'];
export const REST_KINDS = ['apikey', 'session', 'certificate'] as const;
export const isRestRequester = (r: Requester): r is Extract<Requester, { kind: 'apikey' | 'session' | 'certificate' }> => (REST_KINDS as readonly string[]).includes(r.kind);

/** Extended key usages that let the holder speak for Hallmark or for others (a server, a responder, signed code). */
const AUTHORITY_USAGES = new Set(['serverAuth', 'OCSPSigning', 'codeSigning', 'timeStamping', 'cmcRA']);

/**
 * A profile mints authority when its certificates act for Hallmark or carry a role beyond a device's:
 * OCSP responders, TLS servers, code signers, operator and station client certificates. Marked
 * `authority: true` or not, such a profile is treated as one.
 */
export function mintsAuthority(profile: Pick<Profile, 'authority' | 'role' | 'extendedKeyUsage' | 'ocspNoCheck'>): boolean {
  return profile.authority === true || (profile.role !== undefined && profile.role !== 'device') || profile.ocspNoCheck || profile.extendedKeyUsage.some((u) => AUTHORITY_USAGES.has(u));
}

/** The permission a REST principal needs beyond the profile's own list to obtain an authority profile. */
export const AUTHORITY_PERMISSION: Permission = 'cert.authority';

/** How a requester reads in errors and audit details. */
export function describeRequester(r: Requester): string {
  if (isRestRequester(r)) return `${r.kind === 'apikey' ? 'API key' : r.kind === 'session' ? 'operator session' : 'client certificate'} (role ${r.role}${r.scopes ? `, scopes ${r.scopes.join(' ')}` : ''})`;
  return { enrollment: 'device enrollment', renewal: 'certificate renewal', station: 'provisioning station', cli: 'local CLI', system: 'Hallmark itself' }[r.kind];
}

/** A REST principal as a requester. */
export const requesterOf = (p: Principal): Requester => ({ kind: p.kind, role: p.role, scopes: p.scopes, expiresAt: p.expiresAt });
