export const ROLES = ['admin', 'operator', 'read-only', 'station', 'device'] as const;
export type Role = (typeof ROLES)[number];
