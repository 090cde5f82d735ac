import { sql, type Handle } from './handle.js';
import { whereStartsWith } from './prefix.js';
import type { CertificateRow } from './certificates.js';
import type { DeviceRow } from './factory.js';

/**
 * The device inventory, whatever gave a device its identity (a station, EST, REST enrollment, the CLI):
 * a device is an identity that certificates of a device profile were issued to. Derived from the
 * certificates (their identity index) and, for factory devices, their devices rows; nothing extra is
 * written on any enrollment path.
 */

export type InventoryStatus = 'active' | 'expired' | 'revoked';

export interface InventoryFilter {
  /** Profiles whose certificates identify devices (role device). */
  profiles: string[];
  /** Identities starting with this. */
  prefix?: string;
  /** Keyset paging: identities after this one, in identity order. */
  after?: string;
  /** By the state of the device's certificates: one valid (active), none valid but one expired, or all revoked. */
  status?: InventoryStatus;
  limit: number;
}

export interface InventoryEntry {
  identity: string;
  certificates: number;
  /** Newest first. */
  history: CertificateRow[];
  device?: DeviceRow;
}

export async function inventoryPage(handle: Handle, filter: InventoryFilter, now: number): Promise<InventoryEntry[]> {
  if (!filter.profiles.length) return [];
  const db = sql(handle);
  const valid = db.raw('SUM(CASE WHEN status = ? AND not_after > ? THEN 1 ELSE 0 END)', ['active', now]);
  const active = db.raw('SUM(CASE WHEN status = ? THEN 1 ELSE 0 END)', ['active']);
  const q = db('certificates')
    .select('identity')
    .count({ n: '*' })
    .whereIn('profile', filter.profiles)
    .whereNotNull('identity')
    .whereIn('status', ['active', 'revoked'])
    .groupBy('identity')
    .orderBy('identity')
    .limit(filter.limit);
  if (filter.prefix) whereStartsWith(q, 'identity', filter.prefix);
  if (filter.after !== undefined) q.where('identity', '>', filter.after);
  if (filter.status === 'active') q.having(valid, '>', 0);
  else if (filter.status === 'expired') q.having(valid, '=', 0).having(active, '>', 0);
  else if (filter.status === 'revoked') q.having(active, '=', 0);
  const page = (await q) as { identity: string; n: number | string }[];
  return entriesOf(handle, page.map((p) => ({ identity: p.identity, certificates: Number(p.n) })), filter.profiles);
}

/** Devices by identity, in the order given; those no certificate of a device profile names and no station provisioned are left out. */
export async function inventoryEntries(handle: Handle, identities: string[], profiles: string[]): Promise<InventoryEntry[]> {
  const entries = await entriesOf(handle, identities.map((identity) => ({ identity, certificates: 0 })), profiles);
  return entries.filter((e) => e.history.length || e.device).map((e) => ({ ...e, certificates: e.history.length }));
}

/** One device by its identity, or undefined. */
export const inventoryEntry = async (handle: Handle, identity: string, profiles: string[]): Promise<InventoryEntry | undefined> => (await inventoryEntries(handle, [identity], profiles))[0];

async function entriesOf(handle: Handle, page: { identity: string; certificates: number }[], profiles: string[]): Promise<InventoryEntry[]> {
  if (!page.length) return [];
  const db = sql(handle);
  const identities = page.map((p) => p.identity);
  const certificates = (await db('certificates')
    .select('*')
    .whereIn('identity', identities)
    .whereIn('profile', profiles)
    .whereIn('status', ['active', 'revoked'])
    .orderBy('issued_at', 'desc')
    .orderBy('serial')) as CertificateRow[];
  const devices = (await db('devices').select('*').whereIn('serial', identities)) as DeviceRow[];
  return page.map((p) => ({
    ...p,
    history: certificates.filter((c) => c.identity === p.identity),
    device: devices.find((d) => d.serial === p.identity),
  }));
}
