import type { AuditLog } from '../audit/log.js';
import type { Clock } from '../base/clock.js';
import type { CaConfig } from '../config/ca-config.js';
import { createSigner, loadSignerRow, type LoadedSigner, type SignerDeps } from './signers.js';
import { findCertificate } from '../store/certificates.js';
import { inLastThirdOfLife } from '../ca/renewal-due.js';
import { insertTimestamp, newestTsaSigner, type SignerRow } from '../store/signing.js';
import { isUniqueViolation } from '../store/unique-violation.js';
import type { MessageImprint } from '@peculiar/asn1-tsp';
import { imprintHashName, timestampSerial, timestampToken } from './timestamp.js';

/**
 * The time-stamping authority's signer: the newest `tsa` signer, or a new one (key on the token,
 * certificate under the `tsa` profile) when there is none, the newest has entered the last third of its
 * life (ca/renewal-due.ts), is revoked, or its CA no longer issues (rollover, compromise); earlier
 * time-stamps stay verifiable with their own certificate.
 */
export async function ensureTsa(deps: SignerDeps & { audit: AuditLog; clock: Clock }, log: (line: string) => void): Promise<LoadedSigner> {
  const now = deps.clock.now().getTime();
  const newest = await newestTsaSigner(deps.store);
  if (newest && !inLastThirdOfLife(Number(newest.not_before), Number(newest.not_after), now) && (await stillCurrent(deps, newest))) return loadSignerRow(deps, newest);
  const name = `tsa-${new Date(now).toISOString().slice(0, 10).replaceAll('-', '')}-${now.toString(36)}`;
  const row = await createSigner(deps, { name, purpose: 'tsa', requester: { kind: 'system' }, actor: 'system:tsa' });
  log(`time-stamping authority: new certificate ${row.serial}, valid until ${new Date(Number(row.not_after)).toISOString()}`);
  return loadSignerRow(deps, row);
}

/** Its certificate is not revoked and its CA is the generation that issues now (a rollover or a compromise gives a new one). */
async function stillCurrent(deps: SignerDeps, row: SignerRow): Promise<boolean> {
  const certificate = await findCertificate(deps.store, row.serial);
  if (certificate?.status === 'revoked') return false;
  const profile = deps.issue.profiles.get('tsa');
  return !profile || deps.issue.issuers.get(profile.issuer).name === row.ca;
}

/**
 * A time-stamp token, recorded first (serial, time, imprint, who asked: the table's key keeps serials
 * unique; a collision draws another serial).
 */
export async function recordedTimestamp(
  deps: { store: SignerDeps['store']; clock: Clock; config: CaConfig['tsa']; tsa: LoadedSigner },
  input: { messageImprint: MessageImprint; nonce?: ArrayBuffer; certReq: boolean; source: string | null },
): Promise<Uint8Array> {
  const genTime = new Date(Math.floor(deps.clock.now().getTime() / 1000) * 1000);
  for (let attempt = 0; ; attempt++) {
    const serial = timestampSerial();
    try {
      await insertTimestamp(deps.store, { serial: Buffer.from(serial).toString('hex'), gen_time: genTime.getTime(), hash_algorithm: imprintHashName(input.messageImprint), imprint: Buffer.from(input.messageImprint.hashedMessage.buffer).toString('hex'), signer: deps.tsa.row.name, source: input.source });
    } catch (e) {
      if (isUniqueViolation(e) && attempt < 3) continue;
      throw e;
    }
    return timestampToken({ ...input, policy: deps.config.policy, serial, genTime, accuracySeconds: deps.config.accuracySeconds, tsa: deps.tsa });
  }
}

/** The current time-stamping signer from the store (for a process that does not serve /tsa: the CLI). */
export async function currentTsa(deps: SignerDeps): Promise<LoadedSigner | undefined> {
  const row = await newestTsaSigner(deps.store);
  return row ? loadSignerRow(deps, row) : undefined;
}
