import type { Role } from './api-keys.js';

export const PERMISSIONS = [
  'ca.read',
  'ca.manage',
  'cert.read',
  'cert.issue',
  'cert.revoke',
  'station.manage',
  'device.read',
  'factory.provision',
  'enroll.self',
  'apikey.manage',
  'audit.read',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** The RBAC matrix: one table, enforced by one middleware on every REST route. */
export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  admin: PERMISSIONS,
  operator: ['ca.read', 'cert.read', 'cert.issue', 'cert.revoke', 'station.manage', 'device.read', 'audit.read'],
  'read-only': ['ca.read', 'cert.read', 'device.read', 'audit.read'],
  station: ['ca.read', 'factory.provision'],
  device: ['ca.read', 'enroll.self'],
};

export const roleAllows = (role: Role, permission: Permission) => ROLE_PERMISSIONS[role].includes(permission);
