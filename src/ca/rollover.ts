import { inTransaction } from '../store/handle.js';
import { randomBytes } from 'node:crypto';
import type { AuditLog } from '../audit/log.js';
import type { Clock } from '../base/clock.js';
import type { Store } from '../store/handle.js';
import { createCaStore } from '../store/cas.js';
import { HallmarkError } from '../base/errors.js';
import { buildName, nameToText, type AttributeName } from '../x509/names.js';
import { randomSerial, serialToHex } from '../x509/serial.js';
import { buildCaCertificate } from './ca-certificate.js';
import { certifyCa } from './ca-generation.js';
import { caRecords } from './ca-records.js';
import type { CertificateIntent } from '../store/certificates.js';
import { hasLiveCertificates, insertIssuedCertificates } from '../store/certificates.js';
import type { IssuerCa, IssuerRegistry } from './issuer.js';
import type { Name } from '@peculiar/asn1-x509';
import type { Signer } from '../keys/key-store.js';
import type { InitDeps } from './init.js';

/** What the ceremony needs, plus the CAs already loaded. */
export interface RolloverDeps extends InitDeps {
  issuers: IssuerRegistry;
}


/**
 * Issuing CA rollover: a new key on the token and a new certificate for the next generation of
 * `family` from its parent's current generation. From `activeFrom` (default now) new certificates come
 * from it; the older generations keep their CRLs and OCSP until retired. Refuses when the parent could
 * not certify it (expired) — a hierarchy is never left without a valid issuer.
 */
export async function rolloverCa(deps: RolloverDeps, family: string, options: { activeFrom?: Date; actor: string }) {
  const definition = deps.config.cas.find((c) => c.name === family);
  if (!definition) throw new HallmarkError('unknown_ca', `no CA "${family}" in the configuration`, 404);
  const now = deps.clock.now();
  const parent = definition.parent ? deps.issuers.get(definition.parent) : undefined;
  if (parent && parent.notAfter <= now) throw new HallmarkError('parent_expired', `the parent CA ${parent.name} has expired; it cannot certify a new generation`, 409);
  const generations = deps.issuers.generations(family);
  const number = generations.length + 1 + (await deps.cas.list()).filter((r) => (r.family ?? r.name) === family && r.retired_at !== null).length;
  const name = `${family}-${number}`;
  const uri = { token: deps.tokenLabel, object: `hallmark-ca-${name}`, id: new Uint8Array(randomBytes(8)) };
  const signer = await deps.keys.createKey(uri, definition.key);
  try {
    // A distinct subject per generation keeps path building unambiguous (RFC 4158 §2.4).
    const attributes = Object.entries(definition.subject).map(([k, v]) => [k, k === 'CN' ? `${v} G${number}` : v]) as [AttributeName, string][];
    const subject = buildName(attributes);
    const activeFrom = options.activeFrom ?? now;
    const records = caRecords(deps.store, options.actor);
    const row = await certifyCa({ name, family, subject, signer, uri, keyType: definition.key, validityDays: definition.validityDays, pathLength: definition.pathLength, parent, now, activeFrom, publicBaseUrl: deps.config.publicBaseUrl, recordIntent: records.recordIntent });
    const notAfter = new Date(row.not_after);
    // A new root comes with link certificates (RFC 4210 §4.4): NewWithOld (the new key certified by the
    // old root) and OldWithNew (the old key certified by the new root), so that a device trusting
    // either root can validate chains under the other during the overlap.
    // NewWithOld is recorded before the old root signs it; OldWithNew's issuer, the new root, has no
    // record until this rollover's transaction, which records that link whole.
    const links = parent ? [] : await linkCertificates(generations[0]!, { name, subject, signer, ski: Buffer.from(row.ski, 'hex'), notAfter, certificate: new Uint8Array(row.certificate) }, deps.config.publicBaseUrl, now, records.recordIntent);
    await inTransaction(deps.store, async (trx) => {
      await records.recordCa(trx, deps.cas, row);
      await records.recordIssued(trx, links.filter((l) => records.isRecorded(l.serial)).map((l) => ({ serial: l.serial, der: new Uint8Array(l.der) })), row.created_at);
      await insertIssuedCertificates(trx, links.filter((l) => !records.isRecorded(l.serial)).map((link) => ({ ...link, created_at: row.created_at, issued_at: row.created_at, requested_by: options.actor })));
      await deps.audit.recordIn(trx, {
        actor: options.actor,
        action: 'ca.rollover',
        target: name,
        outcome: 'success',
        details: { family, parent: parent?.name, links: links.map((l) => l.serial), previous: generations[0]?.name, activeFrom: activeFrom.toISOString(), serial: row.serial, keyUri: row.key_uri, notAfter: notAfter.toISOString() },
      });
    });
    return { name, family, parent: parent?.name ?? null, serial: row.serial, subject: row.subject, activeFrom, notAfter, links: links.map((l) => ({ serial: l.serial, issuer: l.issuer, subject: l.subject })) };
  } catch (e) {
    await deps.keys.deleteKey(uri).catch(() => undefined);
    throw e;
  }
}

/**
 * An older generation whose last certificate has expired has nothing left to vouch for: it is
 * retired (no more CRLs or OCSP). The current generation of a family is never retired.
 */
export async function retireSpentGenerations(deps: { store: Store; audit: AuditLog; clock: Clock; issuers: IssuerRegistry }): Promise<string[]> {
  const now = deps.clock.now().getTime();
  const retired: string[] = [];
  const families = new Set(deps.issuers.list().map((i) => i.family));
  for (const family of families) {
    const current = deps.issuers.get(family).name;
    for (const generation of deps.issuers.generations(family)) {
      if (generation.name === current || generation.activeFrom.getTime() > now) continue;
      if (await hasLiveCertificates(deps.store, generation.name, now)) continue;
      await inTransaction(deps.store, async (trx) => {
        await createCaStore(deps.store).setStatus(trx, generation.name, 'retired', now);
        await deps.audit.recordIn(trx, { actor: 'system:lifecycle', action: 'ca.retire', target: generation.name, outcome: 'success', details: { family, successor: current } });
      });
      retired.push(generation.name);
    }
  }
  if (retired.length) await deps.issuers.refresh();
  return retired;
}

/** The two cross certificates between an old and a new root, recorded with profile `link`. */
async function linkCertificates(
  old: IssuerCa,
  next: { name: string; subject: Name; signer: Signer; ski: Uint8Array; notAfter: Date; certificate: Uint8Array },
  publicBaseUrl: string,
  now: Date,
  recordIntent: (intent: CertificateIntent) => Promise<void>,
) {
  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000 - 60_000);
  // Links are only needed while both roots are in use: they end with the old root.
  const notAfter = old.notAfter < next.notAfter ? old.notAfter : next.notAfter;
  const make = async (subject: Name, subjectSigner: Signer, issuer: { name: string; subject: Name; ski: Uint8Array; signer: Signer; certificate: Uint8Array }) => {
    const serial = randomSerial();
    const fields = { serial: serialToHex(serial), issuer: issuer.name, profile: 'link', identity: `${nameToText(subject)} by ${issuer.name}`, subject: nameToText(subject), not_before: notBefore.getTime(), not_after: notAfter.getTime(), key_type: subjectSigner.keyType };
    // Only an issuer already recorded can have an intent against it (the certificates table refers to it).
    const recorded = issuer.name === old.name;
    const built = await buildCaCertificate({ serial, subject, subjectSigner, notBefore, notAfter, parent: issuer, publicBaseUrl, beforeSigning: recorded ? (tbs) => recordIntent({ ...fields, requested_by: '', created_at: now.getTime(), tbs }) : undefined });
    return { ...fields, status: 'active', der: Buffer.from(built.der) };
  };
  const newWithOld = await make(next.subject, next.signer, { name: old.name, subject: old.subject, ski: old.ski, signer: old.signer, certificate: old.certificate });
  const oldWithNew = await make(old.subject, old.signer, { name: next.name, subject: next.subject, ski: next.ski, signer: next.signer, certificate: next.certificate });
  return [newWithOld, oldWithNew];
}
