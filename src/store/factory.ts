import type { Knex } from 'knex';
import { isPostgres } from './db.js';
import { insertMany, ROWS_PER_STATEMENT } from './insert-many.js';
import { namedWhenFull } from './pg-prepared.js';
import { together } from './together.js';
import { sql, sqlTx, type Handle, type StoreTx } from './handle.js';

/** The factory line as stored: stations, the devices they provision, and each provisioning's record. */

const CHUNK = ROWS_PER_STATEMENT;

export interface StationRow {
  name: string;
  line: string;
  profiles: string;
  quota_per_hour: number;
  api_key_id: string | null;
  cert_serial: string | null;
  created_by: string;
  created_at: number;
  disabled_at: number | null;
}

export interface DeviceRow {
  serial: string;
  state: 'provisioning' | 'provisioned';
  line: string;
  station: string;
  model: string;
  lot: string;
  firmware_version: string;
  profile: string;
  key_sha256: string;
  server_keygen: boolean | number;
  certificate_serial: string | null;
  reprovision_allowed_at: number | null;
  provisioned_at: number;
  reserved_by?: string | null;
  /** The TPM (EK) the identity was attested with (migration 020), or null for a CSR or server-made key. */
  ek_id?: string | null;
}

/** What a provisioning writes about the device besides its state (deviceFields in factory/provision.ts). */
export type DeviceFields = Omit<DeviceRow, 'serial' | 'state' | 'line' | 'certificate_serial'>;

export interface ManufacturingRecord {
  device_serial: string;
  line: string;
  station: string;
  model: string;
  lot: string;
  firmware_version: string;
  certificate_serial: string;
  at: number;
}

export const findStation = (handle: Handle, name: string): Promise<StationRow | undefined> => sql(handle)('stations').where({ name }).first();

export const listStations = (handle: Handle): Promise<StationRow[]> => sql(handle)('stations').select('*').orderBy('name');

export const insertStation = async (handle: Handle, row: StationRow): Promise<void> => void (await sql(handle)('stations').insert(row));

export const disableStationRow = async (handle: Handle, name: string, at: number): Promise<void> => void (await sql(handle)('stations').where({ name }).update({ disabled_at: at }));

/** The station a credential belongs to: its API key, or its client certificate. */
export function stationByCredential(handle: Handle, credential: { apiKeyId: string } | { certificateSerial: string }): Promise<StationRow | undefined> {
  return sql(handle)('stations').where('apiKeyId' in credential ? { api_key_id: credential.apiKeyId } : { cert_serial: credential.certificateSerial }).first();
}

/** The factory lines that have stations. */
export const stationLines = async (handle: Handle): Promise<string[]> => ((await sql(handle)('stations').distinct('line')) as { line: string }[]).map((s) => s.line);

export const findDevice = (handle: Handle, serial: string): Promise<DeviceRow | undefined> => sql(handle)('devices').where({ serial }).first();

/** Which of these device serials are known (in any state). */
export async function knownDeviceSerials(handle: Handle, serials: string[]): Promise<Set<string>> {
  const known = new Set<string>();
  for (let i = 0; i < serials.length; i += CHUNK) for (const row of await sql(handle)('devices').select('serial').whereIn('serial', serials.slice(i, i + CHUNK))) known.add(row.serial);
  return known;
}

/** Reserves devices seen for the first time ('provisioning'); a serial already there throws a unique violation. */
export const reserveNewDevices = (tx: StoreTx, rows: (DeviceFields & { serial: string; line: string })[]): Promise<void> =>
  insertMany(sqlTx(tx), 'devices', rows.map((r) => ({ ...r, state: 'provisioning', certificate_serial: null })), CHUNK);

/** The columns a reservation owns: when it was made, by which instance, for which key. */
const reservation = (fields: DeviceFields) => ({ provisioned_at: fields.provisioned_at, key_sha256: fields.key_sha256, reserved_by: fields.reserved_by });

/**
 * Takes over an abandoned reservation: compare-and-set on the reservation's time, so that one taker
 * wins. The device's other fields change when it is provisioned (recordProvisioned).
 */
export const takeOverReservation = async (tx: StoreTx, serial: string, reservedAt: number, fields: DeviceFields): Promise<boolean> =>
  (await sqlTx(tx)('devices').where({ serial, state: 'provisioning', provisioned_at: reservedAt }).update(reservation(fields))) === 1;

/** Claims a provisioned device an operator allowed to be provisioned again (one claimer wins); its allowance stays until it is provisioned. */
export const claimForReprovisioning = async (tx: StoreTx, serial: string, fields: DeviceFields): Promise<boolean> =>
  (await sqlTx(tx)('devices').where({ serial, state: 'provisioned' }).whereNotNull('reprovision_allowed_at').update({ ...reservation(fields), state: 'provisioning' })) === 1;

/** Lets an operator allow one more provisioning of a device; false when it is not provisioned. */
export const allowReprovisioning = async (handle: Handle, serial: string, at: number): Promise<boolean> =>
  (await sql(handle)('devices').where({ serial, state: 'provisioned' }).update({ reprovision_allowed_at: at })) === 1;

/** Gives reservations up after nothing was issued: new devices are forgotten, re-provisioned ones go back to their identity. */
export async function releaseReservations(handle: Handle, released: { serial: string; wasProvisioned: boolean }[]): Promise<void> {
  const db = sql(handle);
  const fresh = released.filter((r) => !r.wasProvisioned).map((r) => r.serial);
  for (let i = 0; i < fresh.length; i += CHUNK) await db('devices').whereIn('serial', fresh.slice(i, i + CHUNK)).where({ state: 'provisioning' }).del();
  for (const r of released.filter((x) => x.wasProvisioned)) await db('devices').where({ serial: r.serial, state: 'provisioning' }).update({ state: 'provisioned' });
}

/**
 * Devices provisioned: each gets its certificate and leaves 'provisioning' (its re-provisioning
 * allowance used up), with its manufacturing records, inside the transaction that records the
 * certificates.
 */
export async function recordProvisioned(tx: StoreTx, done: { device: string; certificate: string; fields?: DeviceFields }[], records: ManufacturingRecord[], alsoInTransaction: () => Promise<void>): Promise<void> {
  const trx = sqlTx(tx);
  // node-postgres sends parameters untyped: inside CASE they must be told they are text.
  const text = isPostgres(trx) ? '?::text' : '?';
  const updates = [];
  for (let i = 0; i < done.length; i += CHUNK) {
    const chunk = done.slice(i, i + CHUNK);
    const update = (q: Knex.Transaction) =>
      q('devices')
        .whereIn('serial', chunk.map((d) => d.device))
        .update({ state: 'provisioned', reprovision_allowed_at: null, certificate_serial: q.raw(`CASE serial ${chunk.map(() => `WHEN ? THEN ${text}`).join(' ')} END`, chunk.flatMap((d) => [d.device, d.certificate])) });
    // Its text depends only on the number of rows: a full chunk is prepared once (pg-prepared.ts).
    updates.push(() => namedWhenFull(trx, update(trx), chunk.length, CHUNK, () => `hm_devices_provisioned_${CHUNK}`));
  }
  // A device provisioned again (or after a takeover) gets this provisioning's station, lot, model….
  for (const d of done) if (d.fields) updates.push(() => trx('devices').where({ serial: d.device }).update({ ...d.fields, reprovision_allowed_at: null }));
  await together(trx, [...updates, () => insertMany(trx, 'manufacturing_records', records as unknown as Record<string, unknown>[], CHUNK), alsoInTransaction]);
}

export const manufacturingRecordsOf = (handle: Handle, device: string): Promise<(ManufacturingRecord & { id: number })[]> =>
  sql(handle)('manufacturing_records').where({ device_serial: device }).orderBy('id');

/** How many devices a station provisioned since `since`, and when the oldest of those was (for Retry-After). */
export async function stationOutputSince(handle: Handle, station: string, since: number): Promise<{ count: number; oldest?: number }> {
  const [row] = await sql(handle)('manufacturing_records').where({ station }).where('at', '>', since).count({ n: '*' }).min({ oldest: 'at' });
  return { count: Number(row?.n ?? 0), oldest: row?.oldest === null || row?.oldest === undefined ? undefined : Number(row.oldest) };
}

/** Devices provisioned per station since `since`. */
export async function outputPerStation(handle: Handle, since: number): Promise<Map<string, number>> {
  const rows = (await sql(handle)('manufacturing_records').select('station').count({ n: '*' }).where('at', '>', since).groupBy('station')) as { station: string; n: number | string }[];
  return new Map(rows.map((r) => [r.station, Number(r.n)]));
}

export interface DeviceListFilter {
  serialPrefix?: string;
  lot?: string;
  line?: string;
  state?: string;
  certificateStatus?: string;
  limit: number;
}

/** One page of devices in serial order after `after` (an export walks them all). */
export const devicesAfter = (handle: Handle, after: string, limit: number): Promise<DeviceRow[]> => sql(handle)('devices').where('serial', '>', after).orderBy('serial').limit(limit);

/** Device counts per line and lot. */
export async function devicesPerLot(handle: Handle): Promise<{ line: string; lot: string; devices: number }[]> {
  const rows = (await sql(handle)('devices').select('line', 'lot').count({ devices: '*' }).groupBy('line', 'lot').orderBy('line').orderBy('lot')) as { line: string; lot: string; devices: number | string }[];
  return rows.map((r) => ({ line: r.line, lot: r.lot, devices: Number(r.devices) }));
}

/**
 * The newest devices with their certificates' status, newest first. Without a lot or serial prefix
 * (which narrow through their own indexes), one query per line through its (line, provisioned_at)
 * index, merged here: ordering every device of the fleet to return the first hundred does not scale.
 */
export async function newestDevices(handle: Handle, filter: DeviceListFilter): Promise<Record<string, unknown>[]> {
  const db = sql(handle);
  if (filter.lot || filter.serialPrefix) return deviceQuery(db, filter);
  const lines = filter.line ? [filter.line] : await stationLines(handle);
  const perLine = await Promise.all(lines.map((line) => deviceQuery(db, { ...filter, line })));
  return perLine
    .flat()
    .sort((a, b) => Number(b.provisioned_at) - Number(a.provisioned_at) || (a.serial < b.serial ? -1 : 1))
    .slice(0, filter.limit);
}

/** The device list's query (its plan is checked in test/device-list.test.ts). */
export function deviceQuery(db: Knex, filter: DeviceListFilter): Knex.QueryBuilder {
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
