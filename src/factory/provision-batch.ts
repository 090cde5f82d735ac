import { issueBatch, type IssuedCertificate } from '../ca/issue.js';
import { isUniqueViolation } from '../store/unique-violation.js';
import { toError } from '../base/errors.js';
import { knownDeviceSerials, recordProvisioned, releaseReservations, reserveNewDevices } from '../store/factory.js';
import type { StoreTx } from '../store/handle.js';
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
  reservationRace,
  quotaEvent,
  quotaExceeded,
  sha256,
  type DeviceKey,
  type ProvisionDeps,
  type Provisioned,
  type ProvisionItem,
} from './provision.js';

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

  let allowance = Number(station.quota_per_hour) - (await provisionedLastHour(deps.store, station, now));
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

  const seen = new Set<string>();
  let fresh: Candidate[] = [];
  const oneByOne: number[] = [];
  // Attested devices (a TPM challenge answered) bind their TPM first: they take the careful path.
  for (const { index, item } of accepted) if (item.attestation) oneByOne.push(index);
  const batchable = accepted.filter(({ item }) => !item.attestation);
  const keys = await Promise.all(batchable.map(({ item }) => prepareKey(item).catch(toError)));
  batchable.forEach(({ index, item, profile }, i) => {
    const key = keys[i]!;
    if (key instanceof Error) return void (results[index] = key);
    if (seen.has(item.deviceSerial)) return void oneByOne.push(index);
    seen.add(item.deviceSerial);
    fresh.push({ index, item, profile, key, keyHash: sha256(key.csr.spkiDer) });
  });

  // Devices already known take the careful path (a repeat, a re-provisioning, a stale reservation).
  const known = await knownDeviceSerials(deps.store, fresh.map((c) => c.item.deviceSerial));
  for (const c of fresh) if (known.has(c.item.deviceSerial)) oneByOne.push(c.index);
  fresh = fresh.filter((c) => !known.has(c.item.deviceSerial));

  // The others are reserved in the transaction that records their certificates' intents (nothing is
  // signed before). A reservation the unique key refuses means another request took that device
  // meanwhile: the whole is rolled back, and every device takes the careful path.
  const reserve = (tx: StoreTx) =>
    reserveNewDevices(
      tx,
      fresh.map((c) => ({ serial: c.item.deviceSerial, line: station.line, ...deviceFields(station, c.item, c.profile, c.keyHash, now) })),
    ).catch((e: unknown) => {
      throw isUniqueViolation(e) ? reservationRace : e;
    });

  // The devices' identities, manufacturing records and audit events are recorded in the transaction
  // that records their certificates: a device is provisioned exactly when its certificate is issued.
  const done: { c: Candidate; serial: string }[] = [];
  const record = async (tx: StoreTx, issued: (IssuedCertificate | Error)[]) => {
    fresh.forEach((c, i) => {
      const outcome = issued[i]!;
      if (!(outcome instanceof Error)) done.push({ c, serial: outcome.serial });
    });
    await recordProvisioned(
      tx,
      done.map((d) => ({ device: d.c.item.deviceSerial, certificate: d.serial })),
      done.map((d) => manufacturingRecord(station, d.c.item, d.serial, now)),
      () => deps.audit.recordManyIn(tx, [...audit, ...done.map((d) => provisionEvent(station, d.c.item, d.serial, actor, source))]),
    );
  };
  let issued: (IssuedCertificate | Error)[];
  try {
    issued = await issueBatch(
      deps.issue,
      fresh.map((c) => ({ csr: c.key.csr, profile: c.profile, identity: c.item.deviceSerial, requester: { kind: 'station' as const }, actor, source })),
      { withIntents: reserve, alongside: record },
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
  await releaseReservations(deps.store, undo.map((serial) => ({ serial, wasProvisioned: false })));
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

