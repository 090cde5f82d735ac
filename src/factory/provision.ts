import { X509Certificate, createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import type { AuditEvent, AuditLog } from '../audit/log.js';
import type { Db } from '../store/db.js';
import { issueCertificate, type IssueDeps, type IssuedCertificate } from '../ca/issue.js';
import { revokeCertificate, type RevokeDeps } from '../ca/revoke.js';
import { requestForOwnKey, verifyCsr, type VerifiedCsr } from '../x509/csr.js';
import { toPem } from '../x509/pem.js';
import { isUniqueViolation } from '../store/unique-violation.js';
import { HallmarkError } from '../errors.js';
import { INSTANCE } from '../instance.js';
import { reservationAbandoned } from './reservations.js';
import { stationProfiles, type StationRow } from './stations.js';

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
}

export interface ProvisionDeps {
  db: Db;
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

export interface DeviceRow {
  serial: string;
  state: 'provisioning' | 'provisioned';
  line: string;
  key_sha256: string;
  server_keygen: boolean | number;
  certificate_serial: string | null;
  reprovision_allowed_at: number | null;
  provisioned_at: number;
  reserved_by?: string | null;
}

/** What a provisioning writes about the device, whether it reserves a new row or re-provisions one. */
export const deviceFields = (station: StationRow, item: ProvisionItem, profile: string, keyHash: string, now: Date) => ({
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
});

/** A certificate a dead request had issued for the same device and key: it becomes the device's identity. */
async function adopt(deps: ProvisionDeps, serial: string, profile: string): Promise<IssuedCertificate> {
  const row = await deps.db('certificates').where({ serial }).first();
  const issuer = deps.issue.issuers.exact(row.issuer);
  return {
    serial,
    der: new Uint8Array(row.der),
    certificate: toPem(row.der, 'CERTIFICATE'),
    chain: issuer.chain.map((c) => toPem(c, 'CERTIFICATE')),
    issuer: row.issuer,
    profile,
    identity: row.identity,
    subject: row.subject,
    notBefore: new Date(Number(row.not_before)),
    notAfter: new Date(Number(row.not_after)),
  };
}

export const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

async function existingIdentity(deps: ProvisionDeps, device: DeviceRow, issuerChain: string[]): Promise<Provisioned> {
  const row = await deps.issue.db('certificates').where({ serial: device.certificate_serial }).first();
  return { deviceSerial: device.serial, serial: row.serial, certificate: toPem(row.der, 'CERTIFICATE'), chain: issuerChain, repeated: true };
}

/** The profile a provisioning item asks for, once the station may use it and the item is well formed. */
export function checkItem(station: StationRow, item: ProvisionItem): string {
  const allowed = stationProfiles(station);
  const profile = item.profile ?? allowed[0]!;
  if (!allowed.includes(profile)) throw new HallmarkError('profile_not_allowed', `station ${station.name} may not use profile "${profile}" (allowed: ${allowed.join(', ')})`, 403);
  if (!item.csr === !item.keygen) throw new HallmarkError('invalid_request', 'give either csr or keygen: true', 400);
  return profile;
}

/** Devices a station provisioned in the hour before `now` (what its hourly quota counts). */
export async function provisionedLastHour(db: Db, station: StationRow, now: Date): Promise<number> {
  return Number((await db('manufacturing_records').where({ station: station.name }).where('at', '>', now.getTime() - 3_600_000).count({ n: '*' }))[0]!.n);
}

export const quotaExceeded = (station: StationRow, retryAfter?: number) =>
  new HallmarkError('quota_exceeded', `station ${station.name} reached its quota of ${station.quota_per_hour} devices per hour`, 429, retryAfter === undefined ? undefined : { retryAfter });

/** Seconds until the oldest provisioning of the last hour leaves the window (RFC 6585 §4: 429 says when to retry). */
export async function quotaRetryAfter(db: Db, station: StationRow, now: Date): Promise<number> {
  const [{ oldest }] = await db('manufacturing_records').where({ station: station.name }).where('at', '>', now.getTime() - 3_600_000).min({ oldest: 'at' });
  return Math.max(1, Math.ceil((Number(oldest ?? now.getTime()) + 3_600_000 - now.getTime()) / 1000));
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
}

/** The device's public key: from its verified CSR (which must name it), or made here (keygen). */
export async function prepareKey(item: ProvisionItem): Promise<DeviceKey> {
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
export const manufacturingRecord = (station: StationRow, item: ProvisionItem, certificateSerial: string, now: Date) => ({
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
  details: { station: station.name, line: station.line, lot: item.lot, model: item.model, certificate: certificateSerial, keygen: Boolean(item.keygen), replaces },
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

  if ((await provisionedLastHour(deps.db, station, now)) >= Number(station.quota_per_hour)) {
    await deps.audit.record(quotaEvent(station, item, actor, source));
    throw quotaExceeded(station, await quotaRetryAfter(deps.db, station, now));
  }

  const { csr, privateKeyPem, passphrase } = await prepareKey(item);
  const keyHash = sha256(csr.spkiDer);
  const issuerChain = deps.issue.issuers.get(deps.issue.profiles.get(profile)?.issuer ?? 'issuing').chain.map((c) => toPem(c, 'CERTIFICATE'));

  // Reserve (or re-reserve) the device serial before signing anything.
  let replacing: DeviceRow | undefined;
  let orphan: { serial: string; der: Buffer } | undefined;
  for (let attempt = 0; ; attempt++) {
    const device = (await deps.db('devices').where({ serial: item.deviceSerial }).first()) as DeviceRow | undefined;
    if (!device) {
      try {
        await deps.db('devices').insert({ serial: item.deviceSerial, state: 'provisioning', line: station.line, ...deviceFields(station, item, profile, keyHash, now), certificate_serial: null });
        break;
      } catch (e) {
        if (isUniqueViolation(e) && attempt < 2) continue; // another request reserved it first: look again
        throw e;
      }
    }
    if (device.line !== station.line) throw new HallmarkError('other_line', `device ${item.deviceSerial} belongs to line ${device.line}`, 403);
    if (device.state === 'provisioning') {
      const abandoned = await reservationAbandoned(deps.db, device, now.getTime(), { staleMs: deps.staleReservationMs ?? 120_000, leaseMs: deps.reservationLeaseMs ?? 15_000 });
      if (!abandoned) throw new HallmarkError('in_progress', `device ${item.deviceSerial} is being provisioned by another request; retry`, 409);
      // Take the abandoned reservation over (compare-and-set on its time: one taker wins).
      const taken = await deps.db('devices').where({ serial: item.deviceSerial, state: 'provisioning', provisioned_at: device.provisioned_at }).update({ provisioned_at: now.getTime(), key_sha256: keyHash, reserved_by: INSTANCE.id });
      if (taken !== 1) continue;
      if (device.certificate_serial) replacing = device;
      // The dead request may have got as far as an issued certificate: never leave a second identity.
      orphan = await deps.db('certificates').where({ identity: item.deviceSerial, status: 'active', profile }).where('created_at', '>=', Number(device.provisioned_at)).whereNull('superseded_by').first();
      break;
    }
    if (!item.keygen && !device.server_keygen && device.key_sha256 === keyHash && device.reprovision_allowed_at === null) return existingIdentity(deps, device, issuerChain);
    if (device.reprovision_allowed_at === null) {
      throw new HallmarkError('already_provisioned', `device ${item.deviceSerial} already has a factory identity (${device.certificate_serial}); an operator must allow re-provisioning (hallmark device reprovision)`, 409);
    }
    const claimed = await deps.db('devices').where({ serial: item.deviceSerial, state: 'provisioned' }).whereNotNull('reprovision_allowed_at').update({ state: 'provisioning' });
    if (claimed !== 1) continue;
    replacing = device;
    break;
  }

  let issued: IssuedCertificate;
  try {
    const adoptable = orphan && !item.keygen && sha256(new Uint8Array(new X509Certificate(orphan.der).publicKey.export({ format: 'der', type: 'spki' }))) === keyHash;
    issued = adoptable ? await adopt(deps, orphan!.serial, profile) : await issueCertificate(deps.issue, { csr, profile, identity: item.deviceSerial, requester: { kind: 'station' }, actor, source });
    if (orphan && !adoptable) await revokeCertificate(deps.revocation, { serial: orphan.serial, reason: 'superseded', actor }).catch(() => undefined);
  } catch (e) {
    // Nothing was issued: undo the reservation, so the request can be corrected and repeated.
    if (replacing) await deps.db('devices').where({ serial: item.deviceSerial }).update({ state: 'provisioned' });
    else await deps.db('devices').where({ serial: item.deviceSerial, state: 'provisioning' }).del();
    throw e;
  }

  await deps.db.transaction(async (trx) => {
    await trx('devices').where({ serial: item.deviceSerial }).update({ state: 'provisioned', ...deviceFields(station, item, profile, keyHash, now), certificate_serial: issued.serial });
    await trx('manufacturing_records').insert(manufacturingRecord(station, item, issued.serial, now));
    await deps.audit.recordIn(trx, provisionEvent(station, item, issued.serial, actor, source, replacing?.certificate_serial ?? undefined));
  });
  if (replacing?.certificate_serial) {
    await revokeCertificate(deps.revocation, { serial: replacing.certificate_serial, reason: 'superseded', actor }).catch(() => undefined);
  }
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
