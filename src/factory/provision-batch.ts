import type { Knex } from 'knex';
import { issueBatch, type IssuedCertificate } from '../ca/issue.js';
import { together } from '../store/together.js';
import { isUniqueViolation } from '../store/unique-violation.js';
import { HallmarkError, toError } from '../errors.js';
import { isPostgres } from '../store/db.js';
import { insertMany, ROWS_PER_STATEMENT } from '../store/insert-many.js';
import { namedWhenFull } from '../store/pg-prepared.js';
import type { AuditEvent } from '../audit/log.js';
import type { StationRow } from './stations.js';
import {
  checkItem,
  deviceFields,
  manufacturingRecord,
  prepareKey,
  provisionedLastHour,
  provisionDevice,
  provisionEvent,
  quotaEvent,
  quotaExceeded,
  sha256,
  type DeviceKey,
  type ProvisionDeps,
  type Provisioned,
  type ProvisionItem,
} from './provision.js';

const CHUNK = ROWS_PER_STATEMENT;

interface Candidate {
  index: number;
  item: ProvisionItem;
  profile: string;
  key: DeviceKey;
  keyHash: string;
}

/**
 * A batch of devices with the guarantees of provisionDevice, at batch cost: devices seen for the
 * first time are reserved with their certificates' intents (one transaction), signed together (one
 * trip to the signing workers) and recorded together: the certificates, the devices'
 * identities, their manufacturing records and audit events in one transaction. Anything out of the ordinary — a
 * serial already known (a repeat, a re-provisioning, a stale reservation), the same serial twice in
 * the batch, a reservation race with another instance — goes through provisionDevice, one at a time.
 * Results are in the order given; each is the device's identity or its own error.
 */
export async function provisionBatch(deps: ProvisionDeps, station: StationRow, items: ProvisionItem[], actor: string, source?: string): Promise<(Provisioned | Error)[]> {
  const results: (Provisioned | Error)[] = new Array(items.length);
  const now = deps.issue.clock.now();
  const audit: AuditEvent[] = [];

  let allowance = Number(station.quota_per_hour) - (await provisionedLastHour(deps.db, station, now));
  const accepted: { index: number; item: ProvisionItem; profile: string }[] = [];
  items.forEach((item, index) => {
    try {
      const profile = checkItem(station, item);
      if (allowance-- <= 0) {
        audit.push(quotaEvent(station, item, actor, source));
        throw quotaExceeded(station);
      }
      accepted.push({ index, item, profile });
    } catch (e) {
      results[index] = toError(e);
    }
  });

  const keys = await Promise.all(accepted.map(({ item }) => prepareKey(item).catch(toError)));
  const seen = new Set<string>();
  let fresh: Candidate[] = [];
  const oneByOne: number[] = [];
  accepted.forEach(({ index, item, profile }, i) => {
    const key = keys[i]!;
    if (key instanceof Error) return void (results[index] = key);
    if (seen.has(item.deviceSerial)) return void oneByOne.push(index);
    seen.add(item.deviceSerial);
    fresh.push({ index, item, profile, key, keyHash: sha256(key.csr.spkiDer) });
  });

  // Devices already known take the careful path (a repeat, a re-provisioning, a stale reservation).
  const known = new Set<string>();
  for (let i = 0; i < fresh.length; i += CHUNK) {
    const serials = fresh.slice(i, i + CHUNK).map((c) => c.item.deviceSerial);
    for (const row of await deps.db('devices').select('serial').whereIn('serial', serials)) known.add(row.serial);
  }
  for (const c of fresh) if (known.has(c.item.deviceSerial)) oneByOne.push(c.index);
  fresh = fresh.filter((c) => !known.has(c.item.deviceSerial));

  // The others are reserved in the transaction that records their certificates' intents (nothing is
  // signed before). A reservation the unique key refuses means another request took that device
  // meanwhile: the whole is rolled back, and every device takes the careful path.
  const reservationRace = new HallmarkError('reservation_race', 'another request reserved one of these devices meanwhile', 409);
  const reserve = (trx: Knex.Transaction) =>
    insertMany(
      trx,
      'devices',
      fresh.map((c) => ({ serial: c.item.deviceSerial, state: 'provisioning', line: station.line, ...deviceFields(station, c.item, c.profile, c.keyHash, now), certificate_serial: null })),
      CHUNK,
    ).catch((e: unknown) => {
      throw isUniqueViolation(e) ? reservationRace : e;
    });

  // The devices' identities, manufacturing records and audit events are recorded in the transaction
  // that records their certificates: a device is provisioned exactly when its certificate is issued.
  const done: { c: Candidate; serial: string }[] = [];
  const recordProvisioned = async (trx: Knex.Transaction, issued: (IssuedCertificate | Error)[]) => {
    fresh.forEach((c, i) => {
      const outcome = issued[i]!;
      if (!(outcome instanceof Error)) done.push({ c, serial: outcome.serial });
    });
    const text = isPostgres(deps.db) ? '?::text' : '?';
    const deviceUpdates = [];
    for (let i = 0; i < done.length; i += CHUNK) {
      const chunk = done.slice(i, i + CHUNK);
      const update = () =>
        trx('devices')
          .whereIn('serial', chunk.map((d) => d.c.item.deviceSerial))
          .update({ state: 'provisioned', certificate_serial: trx.raw(`CASE serial ${chunk.map(() => `WHEN ? THEN ${text}`).join(' ')} END`, chunk.flatMap((d) => [d.c.item.deviceSerial, d.serial])) });
      // Its text depends only on the number of rows: a full chunk is prepared once (pg-prepared.ts).
      deviceUpdates.push(() => namedWhenFull(trx, update(), chunk.length, CHUNK, () => `hm_devices_provisioned_${CHUNK}`));
    }
    await together(trx, [
      ...deviceUpdates,
      () => insertMany(trx, 'manufacturing_records', done.map((d) => manufacturingRecord(station, d.c.item, d.serial, now)), CHUNK),
      () => deps.audit.recordManyIn(trx, [...audit, ...done.map((d) => provisionEvent(station, d.c.item, d.serial, actor, source))]),
    ]);
  };
  let issued: (IssuedCertificate | Error)[];
  try {
    issued = await issueBatch(
      deps.issue,
      fresh.map((c) => ({ csr: c.key.csr, profile: c.profile, identity: c.item.deviceSerial, requester: { kind: 'station' as const }, actor, source })),
      { withIntents: reserve, alongside: recordProvisioned },
    );
  } catch (e) {
    if (e !== reservationRace) throw e;
    oneByOne.push(...fresh.map((c) => c.index));
    fresh = [];
    issued = [];
  }
  const undo: string[] = [];
  fresh.forEach((c, i) => {
    const outcome = issued[i]!;
    if (outcome instanceof Error) {
      results[c.index] = outcome;
      undo.push(c.item.deviceSerial);
      return;
    }
    results[c.index] = {
      deviceSerial: c.item.deviceSerial,
      serial: outcome.serial,
      certificate: outcome.certificate,
      chain: outcome.chain,
      repeated: false,
      ...(c.key.privateKeyPem ? { encryptedKey: c.key.privateKeyPem, keyPassphrase: c.item.keyPassphrase ? undefined : c.key.passphrase } : {}),
    };
  });

  // Nothing was issued for these: release their reservations so the requests can be corrected and repeated.
  for (let i = 0; i < undo.length; i += CHUNK) await deps.db('devices').whereIn('serial', undo.slice(i, i + CHUNK)).where({ state: 'provisioning' }).del();
  // Refusals (quota) when no certificate was recorded to carry them (`done` is filled exactly when
  // the outcome transaction, which records them, ran).
  if (!done.length && audit.length) await deps.audit.recordMany(audit);
  if (done.length) deps.onProvisioned?.(station, done.length);

  for (const index of oneByOne) {
    try {
      results[index] = await provisionDevice(deps, station, items[index]!, actor, source);
    } catch (e) {
      results[index] = toError(e);
    }
  }
  return results;
}

