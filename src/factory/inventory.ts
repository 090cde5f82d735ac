import { isoTime } from '../base/iso-time.js';
import { lastOcspSeen } from '../store/last-seen.js';
import type { Profile } from '../profiles/load.js';
import { inventoryEntry, type InventoryEntry } from '../store/inventory.js';
import { allowReprovisioning, manufacturingRecordsOf } from '../store/factory.js';
import { releaseTpmBindingsOf } from '../store/attestation.js';
import { inTransaction, type Store } from '../store/handle.js';
import type { AuditLog } from '../audit/log.js';
import { HallmarkError } from '../base/errors.js';
import { effectiveStatus } from '../ca/certificate-view.js';

/** Profiles whose certificates identify a device: those that authenticate their holder as a device. */
export const deviceProfiles = (profiles: Map<string, Profile>): string[] => [...profiles.values()].filter((p) => p.role === 'device').map((p) => p.name);

/** How a device got its first identity, read from who requested its first certificate. */
export function enrolledVia(requestedBy: string, factory: boolean): string {
  if (factory) return 'factory';
  if (requestedBy.startsWith('est:token:')) return 'est (secret)';
  if (requestedBy.startsWith('est:bootstrap:')) return 'est (IDevID)';
  if (requestedBy.startsWith('rest:token:')) return 'rest enroll';
  if (requestedBy.startsWith('cli:')) return 'cli';
  if (/^(apikey|session|certificate):/.test(requestedBy)) return 'rest';
  return requestedBy.split(':')[0] ?? 'unknown';
}


/** A device as the CLI, REST and the console show it. */
export function inventoryView(entry: InventoryEntry, now: number) {
  const current = entry.history[0];
  const first = entry.history[entry.history.length - 1];
  const device = entry.device;
  return {
    serial: entry.identity,
    via: enrolledVia(first?.requested_by ?? '', Boolean(device)),
    state: device?.state ?? (current ? 'enrolled' : 'unknown'),
    line: device?.line ?? null,
    station: device?.station ?? null,
    lot: device?.lot ?? null,
    model: device?.model ?? null,
    firmwareVersion: device?.firmware_version ?? null,
    provisionedAt: isoTime(device?.provisioned_at ?? first?.issued_at),
    certificates: entry.history.length,
    certificate: current
      ? { serial: current.serial, status: effectiveStatus(current.status, Number(current.not_after), now), notAfter: isoTime(current.not_after)!, revocationReason: current.revocation_reason, profile: current.profile }
      : null,
  };
}

/** Every certificate the device has had, newest first. */
export const historyView = (entry: InventoryEntry, now: number) =>
  entry.history.map((c) => ({
    serial: c.serial,
    status: effectiveStatus(c.status, Number(c.not_after), now),
    profile: c.profile,
    issuer: c.issuer,
    issuedAt: isoTime(c.issued_at),
    notAfter: isoTime(c.not_after),
    requestedBy: c.requested_by,
    revokedAt: isoTime(c.revoked_at),
    revocationReason: c.revocation_reason,
    supersededBy: c.superseded_by ?? null,
  }));

/**
 * When the device was last seen, where known: a relying party asked OCSP about one of its certificates
 * (the device was presenting it), or it renewed (a certificate that replaced another: EST
 * simplereenroll, /renew).
 */
export async function lastSeenOf(store: Store, entry: InventoryEntry): Promise<{ ocsp: string | null; renewal: string | null }> {
  const renewals = entry.history.filter((c) => entry.history.some((older) => older.superseded_by === c.serial)).map((c) => Number(c.issued_at));
  const ocspAt = await lastOcspSeen(store, entry.history.map((c) => c.serial));
  return { ocsp: isoTime(ocspAt), renewal: isoTime(renewals.length ? Math.max(...renewals) : null) };
}

/** A device with everything known of it: the inventory's view, every certificate, the factory's records. */
export async function deviceDetails(store: Store, identity: string, profiles: string[], now: number) {
  const entry = await inventoryEntry(store, identity, profiles);
  if (!entry) return undefined;
  const records = await manufacturingRecordsOf(store, identity);
  return {
    ...inventoryView(entry, now),
    lastSeen: await lastSeenOf(store, entry),
    reprovisionAllowed: entry.device ? entry.device.reprovision_allowed_at !== null : null,
    tpm: entry.device?.ek_id ?? null,
    history: historyView(entry, now),
    records: records.map((r) => ({ at: isoTime(r.at)!, station: r.station, line: r.line, lot: r.lot, model: r.model, firmwareVersion: r.firmware_version, certificateSerial: r.certificate_serial })),
  };
}

/** Lets a provisioned device be provisioned once more (its identity is replaced then), audited. */
export async function allowDeviceReprovisioning(deps: { store: Store; audit: AuditLog }, serial: string, actor: string, source: string | undefined, now: number): Promise<void> {
  const done = await inTransaction(deps.store, async (trx) => {
    const allowed = await allowReprovisioning(trx, serial, now);
    // The device's TPM (an attested identity) is free again: the board may get another TPM, the TPM another board.
    const tpmReleased = allowed ? await releaseTpmBindingsOf(trx, serial) : 0;
    if (allowed) await deps.audit.recordIn(trx, { actor, action: 'device.reprovision.allow', target: serial, outcome: 'success', source, ...(tpmReleased ? { details: { tpmReleased } } : {}) });
    return allowed;
  });
  if (!done) throw new HallmarkError('not_found', `no provisioned device ${serial}: only a device a station provisioned can be re-provisioned`, 404);
}
