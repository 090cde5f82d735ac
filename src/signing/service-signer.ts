import type { AuditLog } from '../audit/log.js';
import type { Clock } from '../base/clock.js';
import { inLastThirdOfLife } from '../ca/renewal-due.js';
import { findCertificate } from '../store/certificates.js';
import { newestServiceSigner, type SignerRow } from '../store/signing.js';
import { serviceKeyType } from '../keys/service-keys.js';
import { createSigner, loadSignerRow, type LoadedSigner, type SignerDeps } from './signers.js';

const WHAT = { tsa: 'time-stamping authority', cmp: 'CMP responder', scep: 'SCEP RA' } as const;
const PROFILE = { tsa: 'tsa', cmp: 'cmp-responder', scep: 'scep-ra' } as const;
/** SCEP clients encrypt to the RA with RSA (RFC 8894 §3.1); the others sign with the token's service key type (P-256, or RSA-3072 where the token has no EC). */
const KEY_TYPE = { tsa: undefined, cmp: undefined, scep: 'rsa-3072' } as const;

/**
 * The signer of one of Hallmark's own services (`tsa`: RFC 3161 time-stamps; `cmp`: CMP responses):
 * the newest of its purpose, or a new one (key on the token, certificate under the service's profile)
 * when there is none, the newest has entered the last third of its life (ca/renewal-due.ts), is
 * revoked, or its CA no longer issues (rollover, compromise). What the older ones signed stays
 * verifiable with their own certificates.
 */
export async function ensureServiceSigner(deps: SignerDeps & { audit: AuditLog; clock: Clock }, purpose: 'tsa' | 'cmp' | 'scep', log: (line: string) => void): Promise<LoadedSigner> {
  const now = deps.clock.now().getTime();
  const newest = await newestServiceSigner(deps.store, purpose);
  if (newest && !inLastThirdOfLife(Number(newest.not_before), Number(newest.not_after), now) && (await stillCurrent(deps, newest, PROFILE[purpose]))) return loadSignerRow(deps, newest);
  const name = `${purpose}-${new Date(now).toISOString().slice(0, 10).replaceAll('-', '')}-${now.toString(36)}`;
  const keyType = KEY_TYPE[purpose] ?? (await serviceKeyType(deps.keys));
  const row = await createSigner(deps, { name, purpose, keyType, requester: { kind: 'system' }, actor: `system:${purpose}` });
  log(`${WHAT[purpose]}: new certificate ${row.serial}, valid until ${new Date(Number(row.not_after)).toISOString()}`);
  return loadSignerRow(deps, row);
}

/** Its certificate is not revoked and its CA is the generation that issues now (a rollover or a compromise gives a new one). */
async function stillCurrent(deps: SignerDeps, row: SignerRow, profileName: string): Promise<boolean> {
  const certificate = await findCertificate(deps.store, row.serial);
  if (certificate?.status === 'revoked') return false;
  const profile = deps.issue.profiles.get(profileName);
  return !profile || deps.issue.issuers.get(profile.issuer).name === row.ca;
}
