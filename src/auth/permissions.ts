import type { Role } from './roles.js';

export const PERMISSIONS = [
  'ca.read',
  'ca.manage',
  'cert.read',
  'cert.issue',
  /** Certificates of profiles that mint authority (responders, TLS servers, operator and station certificates). */
  'cert.authority',
  'cert.revoke',
  'station.manage',
  'device.read',
  'factory.provision',
  'enroll.self',
  'apikey.manage',
  /** Operators' accounts: create, disable, new authenticator seed. */
  'operator.manage',
  /** One-time enrollment secrets (single devices and production lots). */
  'token.manage',
  'audit.read',
  /** Signing firmware and updates with a signer's key (docs/firmware-signing.md); an API key may be scoped to some signers (firmware.sign:<signer>). */
  'firmware.sign',
  /** Signers' lifecycle: create, rollover, retire, revoke. */
  'signer.manage',
  /** Reading signers and release records. */
  'release.read',
  /** The second person of a two-person signer: approving a pending release (never the one who asked). */
  'release.approve',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** The RBAC matrix: one table, enforced by one middleware on every REST route. */
export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  admin: PERMISSIONS,
  operator: ['ca.read', 'cert.read', 'cert.issue', 'cert.revoke', 'station.manage', 'token.manage', 'device.read', 'audit.read', 'release.read'],
  'read-only': ['ca.read', 'cert.read', 'device.read', 'audit.read', 'release.read'],
  station: ['ca.read', 'factory.provision'],
  device: ['ca.read', 'enroll.self'],
};

export const roleAllows = (role: Role, permission: Permission) => ROLE_PERMISSIONS[role].includes(permission);

/** Operations that need an operator session (password + TOTP) or an API key scoped for them. */
export const HIGH_IMPACT: ReadonlySet<Permission> = new Set<Permission>(['ca.manage', 'apikey.manage', 'operator.manage', 'cert.authority', 'firmware.sign', 'signer.manage', 'release.approve']);

export const isPermission = (value: string): value is Permission => (PERMISSIONS as readonly string[]).includes(value);
