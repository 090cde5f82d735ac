import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import type { AuditEvent, AuditLog } from '../audit/log.js';
import type { Store, StoreTx } from '../store/handle.js';
import { issueBatch, type IssueDeps, type IssuedCertificate } from '../ca/issue.js';
import { revokeCertificate, type RevokeDeps } from '../ca/revoke.js';
import { requestForOwnKey, verifyCsr, type VerifiedCsr } from '../x509/csr.js';
import { toPem } from '../x509/pem.js';
import { isUniqueViolation } from '../store/unique-violation.js';
import { claimForReprovisioning, findDevice, recordProvisioned, releaseReservations, reserveNewDevices, stationOutputSince, takeOverReservation, type DeviceFields, type DeviceRow, type ManufacturingRecord } from '../store/factory.js';
import { findCertificate } from '../store/certificates.js';
import { HallmarkError } from '../base/errors.js';
import { INSTANCE } from '../base/instance.js';
import { reservationAbandoned } from './reservations.js';
import { stationProfiles, type StationRow } from './stations.js';
import type { AttestationDeps } from '../attestation/challenge.js';
import type { AttestedKey } from '../attestation/attested-key.js';
import { redeemTpmChallenge } from '../attestation/redeem.js';
import { issueBoundToTpm, type BindingRecord } from '../attestation/binding.js';
import { base64Field } from '../x509/base64-field.js';

export interface ProvisionItem {
  deviceSerial: string;
  model: string;
  lot: string;
  firmwareVersion: string;
  csr?: string;
  keygen?: boolean;
  /** keygen: the passphrase the returned PKCS#8 is encrypted with; a one-time one is made when absent. */
  keyPassphrase?: string;
  profile?: string;
  /** The answer to a TPM attestation challenge the station asked for this device (docs/tpm-attestation.md): the key is the TPM's. */
  attestation?: AttestationAnswer;
}

/** A station's answer to its challenge: what TPM2_ActivateCredential recovered, the AK's attestation and signature (base64). */
export interface AttestationAnswer {
  challenge: string;
  activatedSecret: string;
  attestation: string;
  signature: string;
}

export interface ProvisionDeps {
  store: Store;
  audit: AuditLog;
  issue: IssueDeps;
  revocation: RevokeDeps;
  /** Called after each identity issued (rate anomaly detection). */
  /** Told of the devices a station provisioned (the station-rate alert). */
  onProvisioned?: (station: StationRow, devices: number) => void;
  /**
   * A reservation older than this belongs to a request that died (a crash, a killed instance): the
   * next request for the serial takes it over. Default two minutes.
   */
  staleReservationMs?: number;
  /**
   * How long an instance may miss its heartbeat (the status poll writes it) before the reservations
   * its requests hold are taken over. Default 15 s.
   */
  reservationLeaseMs?: number;
  /** Attested provisioning (a TPM's key instead of a CSR); absent: attested items are refused. */
  attestation?: AttestationDeps;
}

export interface Provisioned {
  deviceSerial: string;
  serial: string;
  certificate: string;
  chain: string[];
  /** True when this request repeated one already served (same serial, same key): nothing new was issued. */
  repeated: boolean;
  encryptedKey?: string;
  keyPassphrase?: string;
}

export type { DeviceRow } from '../store/factory.js';

/** What a provisioning writes about the device, whether it reserves a new row or re-provisions one. */
export const deviceFields = (station: StationRow, item: ProvisionItem, profile: string, keyHash: string, now: Date, ekId: string | null = null): DeviceFields => ({
  station: station.name,
  model: item.model,
  lot: item.lot,
  firmware_version: item.firmwareVersion,
  profile,
  key_sha256: keyHash,
  server_keygen: Boolean(item.keygen),
  provisioned_at: now.getTime(),
  reprovision_allowed_at: null,
  reserved_by: INSTANCE.id,
  ek_id: ekId,
});

export const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

async function existingIdentity(deps: ProvisionDeps, device: DeviceRow, issuerChain: string[]): Promise<Provisioned> {
  const row = (await findCertificate(deps.store, device.certificate_serial!))!;
  return { deviceSerial: device.serial, serial: row.serial, certificate: toPem(row.der!, 'CERTIFICATE'), chain: issuerChain, repeated: true };
}

/** The profile a station asks for (its first when it names none), once it may use it. */
export function stationProfile(station: StationRow, asked?: string): string {
  const allowed = stationProfiles(station);
  const profile = asked ?? allowed[0]!;
  if (!allowed.includes(profile)) throw new HallmarkError('profile_not_allowed', `station ${station.name} may not use profile "${profile}" (allowed: ${allowed.join(', ')})`, 403);
  return profile;
}

/** The profile a provisioning item asks for, once the station may use it and the item is well formed. */
export function checkItem(station: StationRow, item: ProvisionItem): string {
  const profile = stationProfile(station, item.profile);
  if ([item.csr, item.keygen, item.attestation].filter(Boolean).length !== 1) throw new HallmarkError('invalid_request', 'give one of csr, keygen: true, or attestation (the answer to a TPM challenge)', 400);
  return profile;
}

/** Devices a station provisioned in the hour before `now` (what its hourly quota counts). */
export async function provisionedLastHour(store: Store, station: StationRow, now: Date): Promise<number> {
  return (await stationOutputSince(store, station.name, now.getTime() - 3_600_000)).count;
}

export const quotaExceeded = (station: StationRow, retryAfter?: number) =>
  new HallmarkError('quota_exceeded', `station ${station.name} reached its quota of ${station.quota_per_hour} devices per hour`, 429, retryAfter === undefined ? undefined : { retryAfter });

/** Seconds until the oldest provisioning of the last hour leaves the window (RFC 6585 §4: 429 says when to retry). */
export async function quotaRetryAfter(store: Store, station: StationRow, now: Date): Promise<number> {
  const { oldest } = await stationOutputSince(store, station.name, now.getTime() - 3_600_000);
  return Math.max(1, Math.ceil(((oldest ?? now.getTime()) + 3_600_000 - now.getTime()) / 1000));
}
export const quotaEvent = (station: StationRow, item: ProvisionItem, actor: string, source?: string): AuditEvent => ({
  actor,
  action: 'factory.quota',
  target: station.name,
  outcome: 'failure',
  source,
  details: { quotaPerHour: Number(station.quota_per_hour), deviceSerial: item.deviceSerial },
});

export interface DeviceKey {
  csr: VerifiedCsr;
  privateKeyPem?: string;
  passphrase?: string;
  attestation?: AttestedKey;
}

/** Redeems a station's attestation answer for a device (the challenge must be that station's, for that serial and profile). */
export async function redeemForStation(deps: ProvisionDeps, station: StationRow, item: ProvisionItem, profile: string, actor: string, source?: string): Promise<AttestedKey> {
  if (!deps.attestation) throw new HallmarkError('invalid_request', 'attested provisioning is not available here', 400);
  const answer = item.attestation!;
  const attested = await redeemTpmChallenge(deps.attestation, {
    challenge: answer.challenge,
    identity: item.deviceSerial,
    requester: `station:${station.name}`,
    actor,
    source,
    activatedSecret: base64Field('attestation.activatedSecret', answer.activatedSecret),
    attestation: base64Field('attestation.attestation', answer.attestation),
    signature: base64Field('attestation.signature', answer.signature),
  });
  if (attested.profile !== profile) throw new HallmarkError('invalid_request', `the challenge was made for profile "${attested.profile}", this request asks for "${profile}"`, 400);
  return attested;
}

/** The device's public key: from its verified CSR (which must name it), made here (keygen), or the TPM's, attested. */
export async function prepareKey(item: ProvisionItem, attest?: () => Promise<AttestedKey>): Promise<DeviceKey> {
  if (item.attestation) {
    if (!attest) throw new HallmarkError('invalid_request', 'attested devices are provisioned one at a time', 400);
    const attestation = await attest();
    return { csr: requestForOwnKey(attestation.spkiDer), attestation };
  }
  if (item.csr) {
    const csr = await verifyCsr(item.csr);
    // A CSR naming another device is a mix-up on the line: refuse rather than bind the wrong key.
    if (csr.commonName !== undefined && csr.commonName !== item.deviceSerial) {
      throw new HallmarkError('identity_mismatch', `the CSR names "${csr.commonName}", not device ${item.deviceSerial}`, 400);
    }
    return { csr };
  }
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  // The key leaves only encrypted (PKCS#8, PBES2 with AES-256), and is kept nowhere.
  const passphrase = item.keyPassphrase ?? randomBytes(18).toString('base64url');
  return {
    csr: requestForOwnKey(new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }))),
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase }).toString(),
    passphrase,
  };
}

/** The manufacturing record and audit event of a device that received its identity. */
export const manufacturingRecord = (station: StationRow, item: ProvisionItem, certificateSerial: string, now: Date): ManufacturingRecord => ({
  device_serial: item.deviceSerial,
  line: station.line,
  station: station.name,
  model: item.model,
  lot: item.lot,
  firmware_version: item.firmwareVersion,
  certificate_serial: certificateSerial,
  at: now.getTime(),
});

export const provisionEvent = (station: StationRow, item: ProvisionItem, certificateSerial: string, actor: string, source: string | undefined, replaces?: string): AuditEvent => ({
  actor,
  action: 'device.provision',
  target: item.deviceSerial,
  outcome: 'success',
  source,
  details: { station: station.name, line: station.line, lot: item.lot, model: item.model, certificate: certificateSerial, keygen: Boolean(item.keygen), replaces, ...(item.attestation ? { attested: true } : {}) },
});

/**
 * One device, one identity: the device row is reserved before anything is signed; a repeat of the
 * same request (same serial, same key) returns the certificate already issued; another key for a
 * provisioned serial is refused unless an operator allowed re-provisioning, which then revokes the
 * old identity.
 */
export async function provisionDevice(deps: ProvisionDeps, station: StationRow, item: ProvisionItem, actor: string, source?: string): Promise<Provisioned> {
  const now = deps.issue.clock.now();
  const profile = checkItem(station, item);

  if ((await provisionedLastHour(deps.store, station, now)) >= Number(station.quota_per_hour)) {
    await deps.audit.record(quotaEvent(station, item, actor, source));
    throw quotaExceeded(station, await quotaRetryAfter(deps.store, station, now));
  }

  const { csr, privateKeyPem, passphrase, attestation } = await prepareKey(item, () => redeemForStation(deps, station, item, profile, actor, source));
  const keyHash = sha256(csr.spkiDer);
  const issuerChain = deps.issue.issuers.get(deps.issue.profiles.get(profile)?.issuer ?? 'issuing').chain.map((c) => toPem(c, 'CERTIFICATE'));
  const fields = deviceFields(station, item, profile, keyHash, now, attestation?.ek.id ?? null);
  // An attested key binds its TPM to this device first (one TPM, one identity), given back when nothing is issued.
  if (attestation) return issueBoundToTpm({ store: deps.store, audit: deps.audit, clock: deps.issue.clock }, attestation, { identity: item.deviceSerial, actor, source }, (bind) => provisionKey(deps, station, item, profile, { csr, privateKeyPem, passphrase, attestation }, fields, issuerChain, actor, source, bind));
  return provisionKey(deps, station, item, profile, { csr, privateKeyPem, passphrase }, fields, issuerChain, actor, source);
}

async function provisionKey(deps: ProvisionDeps, station: StationRow, item: ProvisionItem, profile: string, key: DeviceKey, fields: DeviceFields, issuerChain: string[], actor: string, source?: string, bind?: BindingRecord): Promise<Provisioned> {
  const now = new Date(fields.provisioned_at);
  const { csr, privateKeyPem, passphrase } = key;
  const keyHash = fields.key_sha256;

  for (let attempt = 0; ; attempt++) {
    const device = await findDevice(deps.store, item.deviceSerial);
    const plan = await reservationPlan(deps, station, item, device, keyHash, now);
    if ('repeat' in plan) return existingIdentity(deps, plan.repeat, issuerChain);
    // The reservation is made in the transaction that records the certificate's intent, and the device
    // is provisioned in the one that records the certificate (the batch hooks of ca/issue.ts): a device
    // is provisioned exactly when its certificate is issued, whatever stops in between.
    let reserved = false;
    const reserve = async (tx: StoreTx) => {
      await plan.reserve(tx, fields).catch((e: unknown) => {
        throw isUniqueViolation(e) ? reservationRace : e;
      });
      reserved = true;
    };
    const replaces = plan.replacing?.certificate_serial ?? undefined;
    const record = async (tx: StoreTx, outcomes: (IssuedCertificate | Error)[]) => {
      const issued = outcomes[0]!;
      if (issued instanceof Error) return;
      await recordProvisioned(tx, [{ device: item.deviceSerial, certificate: issued.serial, fields }], [manufacturingRecord(station, item, issued.serial, now)], async () => {
        await deps.audit.recordIn(tx, provisionEvent(station, item, issued.serial, actor, source, replaces));
        if (bind) await bind(tx, issued.serial);
      });
    };
    let issued: IssuedCertificate | Error;
    try {
      [issued] = (await issueBatch(deps.issue, [{ csr, profile, identity: item.deviceSerial, requester: { kind: 'station' }, actor, source, attestation: key.attestation }], { withIntents: reserve, alongside: record })) as [IssuedCertificate | Error];
    } catch (e) {
      if (e === reservationRace && attempt < 2) continue; // another request reserved it first: look again
      throw e;
    }
    if (issued instanceof Error) {
      // Nothing was issued: undo the reservation, so the request can be corrected and repeated.
      if (reserved) await releaseReservations(deps.store, [{ serial: item.deviceSerial, wasProvisioned: Boolean(plan.replacing) }]);
      throw issued;
    }
    if (replaces) await revokeCertificate(deps.revocation, { serial: replaces, reason: 'superseded', actor }).catch(() => undefined);
    deps.onProvisioned?.(station, 1);
    return {
      deviceSerial: item.deviceSerial,
      serial: issued.serial,
      certificate: issued.certificate,
      chain: issued.chain,
      repeated: false,
      ...(privateKeyPem ? { encryptedKey: privateKeyPem, keyPassphrase: item.keyPassphrase ? undefined : passphrase } : {}),
    };
  }
}

/** A reservation the database refused: another request took the device meanwhile. */
export const reservationRace = new HallmarkError('reservation_race', 'another request reserved this device meanwhile', 409);

type ReservationPlan = { repeat: DeviceRow } | { reserve: (tx: StoreTx, fields: DeviceFields) => Promise<void>; replacing?: DeviceRow };

/**
 * What provisioning this serial means now: a new device is reserved; an abandoned reservation is taken
 * over; the same key again is the identity it already has; a provisioned device takes another only when
 * an operator allowed it. Each reservation is a compare-and-set: of two requests, one wins.
 */
async function reservationPlan(deps: ProvisionDeps, station: StationRow, item: ProvisionItem, device: DeviceRow | undefined, keyHash: string, now: Date): Promise<ReservationPlan> {
  const won = (ok: boolean) => {
    if (!ok) throw reservationRace;
  };
  if (!device) return { reserve: (tx, fields) => reserveNewDevices(tx, [{ serial: item.deviceSerial, line: station.line, ...fields }]) };
  if (device.line !== station.line) throw new HallmarkError('other_line', `device ${item.deviceSerial} belongs to line ${device.line}`, 403);
  if (device.state === 'provisioning') {
    const abandoned = await reservationAbandoned(deps.store, device, now.getTime(), { staleMs: deps.staleReservationMs ?? 120_000, leaseMs: deps.reservationLeaseMs ?? 15_000 });
    if (!abandoned) throw new HallmarkError('in_progress', `device ${item.deviceSerial} is being provisioned by another request; retry`, 409);
    return { reserve: async (tx, fields) => won(await takeOverReservation(tx, item.deviceSerial, Number(device.provisioned_at), fields)), replacing: device.certificate_serial ? device : undefined };
  }
  if (!item.keygen && !device.server_keygen && device.key_sha256 === keyHash && device.reprovision_allowed_at === null) return { repeat: device };
  if (device.reprovision_allowed_at === null) {
    throw new HallmarkError('already_provisioned', `device ${item.deviceSerial} already has a factory identity (${device.certificate_serial}); an operator must allow re-provisioning (hallmark device reprovision)`, 409);
  }
  return { reserve: async (tx, fields) => won(await claimForReprovisioning(tx, item.deviceSerial, fields)), replacing: device };
}
