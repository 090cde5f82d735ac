import type { Knex } from 'knex';
import type { Db } from '../store/db.js';

export interface DeviceListFilter {
  /** Devices whose serial starts with this. */
  serialPrefix?: string;
  lot?: string;
  line?: string;
  state?: string;
  /** The status of the device's certificate. */
  certificateStatus?: string;
  limit: number;
}

/**
 * The newest devices first, as the console and `hallmark device list` show them. Sorting every
 * device by provisioned_at held SQLite's one connection for 540 ms at a million devices (the factory
 * line waited meanwhile); an index on provisioned_at alone would cost every provisioning ~5%
 * (interleaved factory runs). The (line, provisioned_at) index already orders each line's devices, so
 * the newest `limit` of each line are read in order and merged here: lines are few (one per station
 * line), so this reads at most lines × limit rows. (A lot or a serial prefix is more selective: those
 * go through their own index.)
 */
export async function newestDevices(db: Db, filter: DeviceListFilter): Promise<Record<string, unknown>[]> {
  // A lot or a serial prefix narrows the devices through its own index first: one query.
  if (filter.lot || filter.serialPrefix) return deviceQuery(db, filter);
  const lines = filter.line ? [filter.line] : ((await db('stations').distinct('line')) as { line: string }[]).map((s) => s.line);
  const perLine = await Promise.all(lines.map((line) => deviceQuery(db, { ...filter, line })));
  return perLine
    .flat()
    .sort((a, b) => Number(b.provisioned_at) - Number(a.provisioned_at) || (a.serial < b.serial ? -1 : 1))
    .slice(0, filter.limit);
}

/** The newest devices the filter selects (for one line, its plan is checked in tests: the (line, provisioned_at) index). */
export function deviceQuery(db: Db, filter: DeviceListFilter): Knex.QueryBuilder {
  const q = db('devices')
    .leftJoin('certificates', 'certificates.serial', 'devices.certificate_serial')
    .select('devices.*', 'certificates.status as certificate_status', 'certificates.not_after as certificate_not_after', 'certificates.revocation_reason as certificate_revocation_reason')
    .orderBy('devices.provisioned_at', 'desc')
    .orderBy('devices.serial')
    .limit(filter.limit);
  if (filter.certificateStatus) q.where('certificates.status', filter.certificateStatus);
  if (filter.serialPrefix) q.where('devices.serial', 'like', `${filter.serialPrefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  if (filter.line) q.where('devices.line', filter.line);
  if (filter.lot) q.where('devices.lot', filter.lot);
  if (filter.state) q.where('devices.state', filter.state);
  return q;
}
