import { randomBytes } from 'node:crypto';
import type { CaConfig } from '../config/ca-config.js';
import type { KeyStore, Signer } from '../keys/key-store.js';
import { formatKeyUri, type KeyUri } from '../keys/key-uri.js';
import type { AuditLog } from '../audit/log.js';
import type { Clock } from '../clock.js';
import type { Db } from '../store/db.js';
import type { CaStore } from '../store/cas.js';
import { createApiKey } from '../auth/api-keys.js';
import { HallmarkError } from '../errors.js';
import { buildName, nameToText, type AttributeName } from '../x509/names.js';
import { randomSerial, serialToHex } from '../x509/serial.js';
import { buildCaCertificate } from './ca-certificate.js';
import { auditSigner } from '../audit/checkpoint.js';
import { SECRETS_KEY } from '../security-plane.js';
import type { Name } from '@peculiar/asn1-x509';

export interface InitDeps {
  db: Db;
  keys: KeyStore;
  cas: CaStore;
  audit: AuditLog;
  clock: Clock;
  config: CaConfig;
  tokenLabel: string;
}

export interface InitResult {
  cas: { name: string; parent: string | null; serial: string; subject: string; keyUri: string; notAfter: Date }[];
  admin: { id: string; apiKey: string };
}

const DAY = 86_400_000;
const keyUriFor = (token: string, ca: string): KeyUri => ({ token, object: `hallmark-ca-${ca}`, id: new Uint8Array(randomBytes(8)) });

/**
 * The CA ceremony: a key on the token and a certificate for every CA in the configuration, root
 * first, then the bootstrap admin API key (shown once). Refuses when any CA exists already, in the
 * database or as a key on the token, so an existing hierarchy can never be overwritten.
 */
export async function initializeCa(deps: InitDeps, progress: (line: string) => void = () => {}): Promise<InitResult> {
  const existing = await deps.cas.list();
  if (existing.length) {
    throw new HallmarkError('ca_exists', `a CA hierarchy already exists (${existing.map((c) => c.name).join(', ')}); refusing to overwrite it`, 409);
  }
  for (const ca of deps.config.cas) {
    if (await deps.keys.hasKey({ token: deps.tokenLabel, object: `hallmark-ca-${ca.name}` })) {
      throw new HallmarkError('ca_exists', `token "${deps.tokenLabel}" already holds a key for CA "${ca.name}"; refusing to overwrite it`, 409);
    }
  }

  const created: KeyUri[] = [];
  try {
    return await runCeremony(deps, created, progress);
  } catch (e) {
    // Keys that certify nothing must not block the next attempt: remove what this run made.
    const dbHasCa = (await deps.cas.list()).length > 0;
    if (!dbHasCa) for (const uri of created) await deps.keys.deleteKey(uri).catch(() => {});
    throw e;
  }
}

async function runCeremony(deps: InitDeps, created: KeyUri[], progress: (line: string) => void): Promise<InitResult> {
  const now = deps.clock.now();
  const made = new Map<string, { subject: Name; ski: Uint8Array; signer: Signer; notAfter: Date; certificate: Uint8Array }>();
  const result: InitResult['cas'] = [];
  for (const ca of deps.config.cas) {
    const uri = keyUriFor(deps.tokenLabel, ca.name);
    progress(`generating ${ca.key} key for CA "${ca.name}" on token "${deps.tokenLabel}"`);
    const signer = await deps.keys.createKey(uri, ca.key);
    created.push(uri);
    const subject = buildName(Object.entries(ca.subject) as [AttributeName, string][]);
    const parent = ca.parent ? { name: ca.parent, ...made.get(ca.parent)! } : undefined;
    const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000 - 60_000);
    let notAfter = new Date(notBefore.getTime() + ca.validityDays * DAY);
    if (parent && notAfter > parent.notAfter) notAfter = parent.notAfter;
    const serial = randomSerial();
    const cert = await buildCaCertificate({
      serial,
      subject,
      subjectSigner: signer,
      notBefore,
      notAfter,
      pathLength: ca.pathLength,
      parent,
      publicBaseUrl: deps.config.publicBaseUrl,
    });
    const row = {
      name: ca.name,
      parent: ca.parent ?? null,
      key_uri: formatKeyUri(uri),
      key_type: ca.key,
      certificate: Buffer.from(cert.der),
      serial: serialToHex(serial),
      subject: nameToText(subject),
      ski: Buffer.from(cert.ski).toString('hex'),
      not_before: notBefore.getTime(),
      not_after: notAfter.getTime(),
      status: 'active',
      created_at: now.getTime(),
      family: ca.name,
      active_from: now.getTime(),
      retired_at: null,
    };
    await deps.db.transaction(async (trx) => {
      await deps.cas.insert(trx, row);
      if (ca.parent) {
        // A subordinate CA is also a certificate its parent issued: it can be listed and revoked.
        await trx('certificates').insert({
          serial: row.serial,
          issuer: ca.parent,
          profile: 'ca',
          identity: ca.name,
          subject: row.subject,
          status: 'active',
          not_before: row.not_before,
          not_after: row.not_after,
          der: row.certificate,
          key_type: ca.key,
          requested_by: 'ceremony',
          created_at: row.created_at,
          issued_at: row.created_at,
        });
      }
      await deps.audit.recordIn(trx, {
        actor: 'ceremony',
        action: 'ca.create',
        target: ca.name,
        outcome: 'success',
        details: { parent: ca.parent, serial: row.serial, subject: row.subject, keyUri: row.key_uri, keyType: ca.key, notAfter: notAfter.toISOString() },
      });
    });
    made.set(ca.name, { subject, ski: cert.ski, signer, notAfter, certificate: cert.der });
    result.push({ name: ca.name, parent: row.parent, serial: row.serial, subject: row.subject, keyUri: row.key_uri, notAfter });
    progress(`CA "${ca.name}" created: ${row.subject}`);
  }

  // The audit checkpoint key and the secret-sealing key, so that no instance has to make them later.
  progress(`generating the audit checkpoint key and the secret-sealing key on token "${deps.tokenLabel}"`);
  await auditSigner(deps.keys, deps.tokenLabel);
  const sealer = await deps.keys.getSealer({ token: deps.tokenLabel, object: SECRETS_KEY });
  await sealer.seal(new Uint8Array(1), 'hallmark/init');

  const admin = await deps.db.transaction(async (trx) => {
    const key = await createApiKey(trx, { role: 'admin', label: 'bootstrap admin', createdBy: 'ceremony', now });
    await deps.audit.recordIn(trx, { actor: 'ceremony', action: 'apikey.create', target: key.id, outcome: 'success', details: { role: 'admin', label: 'bootstrap admin' } });
    return key;
  });
  return { cas: result, admin: { id: admin.id, apiKey: admin.apiKey } };
}
