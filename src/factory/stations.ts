import { inTransaction } from '../store/handle.js';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Store } from '../store/handle.js';
import { disableStationRow, findStation, insertStation, stationByCredential, type StationRow } from '../store/factory.js';
import type { AuditLog } from '../audit/log.js';
import type { Principal } from '../auth/principal.js';
import { createApiKey, revokeApiKey } from '../auth/api-keys.js';
import { issueCertificate, type IssueDeps } from '../ca/issue.js';
import { revokeCertificate, type RevokeDeps } from '../ca/revoke.js';
import { requestForOwnKey } from '../x509/csr.js';
import { HallmarkError } from '../base/errors.js';

export type { StationRow } from '../store/factory.js';

export const stationProfiles = (row: StationRow): string[] => JSON.parse(row.profiles);

export const stationView = (row: StationRow) => ({
  name: row.name,
  line: row.line,
  profiles: stationProfiles(row),
  quotaPerHour: Number(row.quota_per_hour),
  apiKeyId: row.api_key_id,
  certificateSerial: row.cert_serial,
  createdAt: new Date(Number(row.created_at)).toISOString(),
  state: row.disabled_at === null ? 'active' : 'disabled',
});

/**
 * Registers a station with two credentials of its own: an API key (role station) and a client
 * certificate under the `station` profile, its key made here (the station has no way to send a CSR
 * before it has a credential). Both are in the answer, once; with `dir` (the CLI), the certificate and
 * key are also written there (0600). Both end when the station is disabled.
 */
export async function addStation(
  deps: { store: Store; audit: AuditLog; issue: IssueDeps },
  options: { name: string; line: string; profiles?: string[]; quotaPerHour?: number; actor: string; source?: string; dir?: string },
) {
  // A station provisions device identities, up to 5,000 an hour, unless told otherwise (CLI and REST alike).
  const { profiles = ['device'], quotaPerHour = 5000 } = options;
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(options.name)) throw new HallmarkError('invalid_name', 'station names are lowercase letters, digits and dashes', 400);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(options.line)) throw new HallmarkError('invalid_line', 'line names are letters, digits, dots, dashes and underscores', 400);
  for (const p of profiles) {
    const profile = deps.issue.profiles.get(p);
    if (!profile) throw new HallmarkError('unknown_profile', `no profile named "${p}"`, 400);
    // A station-facing route never reaches a profile that stations may not request (an authority profile never does).
    if (!profile.requesters.station) throw new HallmarkError('profile_not_allowed', `profile "${p}" does not accept provisioning stations (requesters.station)`, 400);
  }
  if (await findStation(deps.store, options.name)) throw new HallmarkError('exists', `station "${options.name}" exists already`, 409);
  const now = deps.issue.clock.now();
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const cert = await issueCertificate(deps.issue, { csr: requestForOwnKey(new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }))), profile: 'station', identity: options.name, requester: { kind: 'system' }, actor: options.actor });
  const credentials = { certificate: cert.certificate + cert.chain.join(''), privateKey: String(privateKey.export({ format: 'pem', type: 'pkcs8' })) };
  let files: { certFile: string; keyFile: string } | undefined;
  if (options.dir) {
    fs.mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    files = { certFile: path.join(options.dir, `${options.name}.pem`), keyFile: path.join(options.dir, `${options.name}.key`) };
    fs.writeFileSync(files.certFile, credentials.certificate, { mode: 0o600 });
    fs.writeFileSync(files.keyFile, credentials.privateKey, { mode: 0o600 });
  }
  const key = await inTransaction(deps.store, async (trx) => {
    const apiKey = await createApiKey(trx, { role: 'station', label: `station ${options.name}`, createdBy: options.actor, now });
    await insertStation(trx, {
      name: options.name,
      line: options.line,
      profiles: JSON.stringify(profiles),
      quota_per_hour: quotaPerHour,
      api_key_id: apiKey.id,
      cert_serial: cert.serial,
      created_by: options.actor,
      created_at: now.getTime(),
      disabled_at: null,
    });
    await deps.audit.recordIn(trx, { actor: options.actor, action: 'station.add', target: options.name, outcome: 'success', source: options.source, details: { line: options.line, profiles, quotaPerHour, apiKeyId: apiKey.id, certificate: cert.serial } });
    return apiKey;
  });
  return { name: options.name, line: options.line, apiKey: key.apiKey, apiKeyId: key.id, certificateSerial: cert.serial, ...files, credentials };
}

/** Takes effect at once for both credentials: the API key is revoked and so is the certificate. */
export async function disableStation(deps: RevokeDeps, name: string, actor: string, source?: string): Promise<void> {
  const row = await findStation(deps.store, name);
  if (!row || row.disabled_at !== null) throw new HallmarkError('not_found', `no active station "${name}"`, 404);
  const now = deps.clock.now();
  await inTransaction(deps.store, async (trx) => {
    await disableStationRow(trx, name, now.getTime());
    if (row.api_key_id) await revokeApiKey(trx, row.api_key_id, now);
    await deps.audit.recordIn(trx, { actor, action: 'station.disable', target: name, outcome: 'success', source });
  });
  if (row.cert_serial) await revokeCertificate(deps, { serial: row.cert_serial, reason: 'cessationOfOperation', actor }).catch(() => undefined);
}

/** The station a principal speaks for: by its API key or by its client certificate. */
export async function stationOf(store: Store, principal: Principal): Promise<StationRow | undefined> {
  if (principal.role !== 'station') return undefined;
  if (principal.kind === 'apikey') return stationByCredential(store, { apiKeyId: principal.id });
  if (principal.kind === 'certificate') return stationByCredential(store, { certificateSerial: principal.id });
  return undefined;
}

/** The station a request speaks for, enabled; a clear refusal otherwise. */
export async function callingStation(store: Store, principal: Principal): Promise<StationRow> {
  const station = await stationOf(store, principal);
  if (!station) throw new HallmarkError('not_a_station', 'provisioning is done by a station, with its API key or client certificate', 400);
  if (station.disabled_at !== null) throw new HallmarkError('station_disabled', `station ${station.name} is disabled`, 403);
  return station;
}
