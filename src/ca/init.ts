import { inTransaction } from '../store/handle.js';
import { randomBytes } from 'node:crypto';
import type { CaConfig } from '../config/ca-config.js';
import type { KeyStore, Signer } from '../keys/key-store.js';
import type { KeyUri } from '../keys/key-uri.js';
import type { AuditLog } from '../audit/log.js';
import type { Clock } from '../base/clock.js';
import type { Store } from '../store/handle.js';
import type { CaStore } from '../store/cas.js';
import { createApiKey } from '../auth/api-keys.js';
import { HallmarkError } from '../base/errors.js';
import { buildName, type AttributeName } from '../x509/names.js';
import { certifyCa } from './ca-generation.js';
import { caRecords } from './ca-records.js';
import { auditSigner } from '../audit/checkpoint.js';
import { probeKeyType } from '../keys/probe.js';
import { SECRETS_KEY } from '../keys/key-store.js';
import type { Name } from '@peculiar/asn1-x509';

export interface InitDeps {
  store: Store;
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

  await checkToken(deps, progress);

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

/**
 * Before any key is made: the token can make every configured CA key type and seal secrets, or the
 * ceremony stops here with what is missing (`hallmark hsm check` gives the whole picture).
 */
async function checkToken(deps: InitDeps, progress: (line: string) => void): Promise<void> {
  const caps = await deps.keys.capabilities();
  const gaps = deps.config.cas.filter((ca) => !caps.keyTypes.includes(ca.key)).map((ca) => `CA "${ca.name}" is ${ca.key}, and the token cannot make it: ${caps.keyTypeGaps[ca.key]}`);
  if (!caps.sealing) gaps.push(`the token cannot seal secrets: ${caps.sealingGap}`);
  const failed = new Set<string>();
  if (!gaps.length) {
    // Listing a mechanism is not using it: a throw-away key of each type signs once (keys/probe.ts).
    for (const keyType of new Set(deps.config.cas.map((ca) => ca.key))) {
      progress(`probing ${keyType} on token "${deps.tokenLabel}" (a throw-away key, deleted)`);
      const probe = await probeKeyType(deps.keys, deps.tokenLabel, keyType);
      if (probe.ok) continue;
      failed.add(keyType);
      gaps.push(`${keyType} (${deps.config.cas.filter((ca) => ca.key === keyType).map((ca) => `CA "${ca.name}"`).join(', ')}): ${probe.detail}`);
    }
  }
  if (gaps.length) {
    throw new HallmarkError(
      'hsm_unsuitable',
      `token "${caps.token.label}" (${caps.token.manufacturer} ${caps.token.model}) cannot hold this CA: ${gaps.join('; ')}. ` +
        `It can make ${caps.keyTypes.filter((k) => !failed.has(k)).join(', ') || 'no CA key type'}${failed.size ? ' (of those it lists)' : ''}; change the key types in the CA configuration or use another token (run hallmark hsm check)`,
      400,
    );
  }
  progress(`token "${caps.token.label}" (${caps.token.manufacturer} ${caps.token.model}): CA key types ${caps.keyTypes.join(', ')}; secrets sealed with ${caps.sealing}; service keys ${caps.serviceKeyType}`);
}

async function runCeremony(deps: InitDeps, created: KeyUri[], progress: (line: string) => void): Promise<InitResult> {
  const now = deps.clock.now();
  const made = new Map<string, { subject: Name; ski: Uint8Array; signer: Signer; notAfter: Date; certificate: Uint8Array }>();
  const result: InitResult['cas'] = [];
  const records = caRecords(deps.store, 'ceremony');
  for (const ca of deps.config.cas) {
    const uri = keyUriFor(deps.tokenLabel, ca.name);
    progress(`generating ${ca.key} key for CA "${ca.name}" on token "${deps.tokenLabel}"`);
    const signer = await deps.keys.createKey(uri, ca.key);
    created.push(uri);
    const subject = buildName(Object.entries(ca.subject) as [AttributeName, string][]);
    const parent = ca.parent ? { name: ca.parent, ...made.get(ca.parent)! } : undefined;
    const row = await certifyCa({ name: ca.name, family: ca.name, subject, signer, uri, keyType: ca.key, validityDays: ca.validityDays, pathLength: ca.pathLength, parent, now, activeFrom: now, publicBaseUrl: deps.config.publicBaseUrl, recordIntent: records.recordIntent });
    const notAfter = new Date(row.not_after);
    await inTransaction(deps.store, async (trx) => {
      await records.recordCa(trx, deps.cas, row);
      await deps.audit.recordIn(trx, {
        actor: 'ceremony',
        action: 'ca.create',
        target: ca.name,
        outcome: 'success',
        details: { parent: ca.parent, serial: row.serial, subject: row.subject, keyUri: row.key_uri, keyType: ca.key, notAfter: notAfter.toISOString() },
      });
    });
    made.set(ca.name, { subject, ski: Buffer.from(row.ski, 'hex'), signer, notAfter, certificate: new Uint8Array(row.certificate) });
    result.push({ name: ca.name, parent: row.parent, serial: row.serial, subject: row.subject, keyUri: row.key_uri, notAfter });
    progress(`CA "${ca.name}" created: ${row.subject}`);
  }

  // The audit checkpoint key and the secret-sealing key, so that no instance has to make them later.
  progress(`generating the audit checkpoint key and the secret-sealing key on token "${deps.tokenLabel}"`);
  await auditSigner(deps.keys, deps.tokenLabel);
  const sealer = await deps.keys.getSealer({ token: deps.tokenLabel, object: SECRETS_KEY });
  await sealer.seal(new Uint8Array(1), 'hallmark/init');

  const admin = await inTransaction(deps.store, async (trx) => {
    const key = await createApiKey(trx, { role: 'admin', label: 'bootstrap admin', createdBy: 'ceremony', now });
    await deps.audit.recordIn(trx, { actor: 'ceremony', action: 'apikey.create', target: key.id, outcome: 'success', details: { role: 'admin', label: 'bootstrap admin' } });
    return key;
  });
  return { cas: result, admin: { id: admin.id, apiKey: admin.apiKey } };
}
