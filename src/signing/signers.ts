import { randomBytes } from 'node:crypto';
import type { AuditLog } from '../audit/log.js';
import { HallmarkError } from '../base/errors.js';
import { issueBatch, type IssueDeps, type IssuedCertificate } from '../ca/issue.js';
import type { KeyStore, Signer } from '../keys/key-store.js';
import { formatKeyUri, parseKeyUri } from '../keys/key-uri.js';
import type { Requester } from '../profiles/requester.js';
import type { Store, StoreTx } from '../store/handle.js';
import { findSigner, insertSigner, signerKeys, type SignerRow } from '../store/signing.js';
import { requestForOwnKey } from '../x509/csr.js';
import { toPem } from '../x509/pem.js';

/** Signer names: as in URLs and key labels. */
export const SIGNER_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
/**
 * Keys a signer may have: ECDSA, whose raw signatures boot loaders verify as DER or as r‖s; RSA, whose
 * raw signatures are RSASSA-PSS (CMS signatures by RSA keys are PKCS#1 v1.5, as OpenSSL's defaults).
 */
export const SIGNER_KEY_TYPES = ['ec-p256', 'ec-p384', 'rsa-3072', 'rsa-4096'] as const;
export type SignerKeyType = (typeof SIGNER_KEY_TYPES)[number];

/** What a signer is for, the profile it is certified under by default and the usage that profile must grant. */
const PURPOSES = {
  firmware: { defaultProfile: 'firmware-signer', usage: 'codeSigning' },
  tsa: { defaultProfile: 'tsa', usage: 'timeStamping' },
  cmp: { defaultProfile: 'cmp-responder', usage: 'cmcRA' },
  // The SCEP RA signs CertReps and is the key clients encrypt their requests to (RFC 8894 §2.1). No
  // extendedKeyUsage: clients check its signature as S/MIME (OpenSSL's PKCS7_verify), which refuses an
  // EKU without emailProtection; keyEncipherment is what it must grant.
  scep: { defaultProfile: 'scep-ra', usage: 'keyEncipherment' },
} as const;

/** firmware: signs releases; tsa: RFC 3161 time-stamps; cmp: CMP responses (RFC 9483 §3.1); scep: the SCEP RA (RFC 8894). */
export type SignerPurpose = keyof typeof PURPOSES;

export interface SignerDeps {
  store: Store;
  keys: KeyStore;
  issue: IssueDeps;
  tokenLabel: string;
}

/** A signer ready to sign: its key on the token, its certificate and the chain up to (not including) the root. */
export interface LoadedSigner {
  row: SignerRow;
  key: Signer;
  /** DER: the signer's certificate, then its CAs below the root. */
  chain: Uint8Array[];
}

/**
 * A new signer: a key generated on the token (sensitive, never extractable, as CA keys are) and a
 * certificate for it under its purpose's profile (`firmware-signer`: codeSigning; `tsa`: timeStamping),
 * recorded with the signer and audited in the transaction that records the certificate.
 */
export async function createSigner(deps: SignerDeps & { audit: AuditLog }, input: { name: string; purpose?: SignerPurpose; twoPerson?: boolean; profile?: string; ca?: string; keyType?: string; requester: Requester; actor: string; source?: string }): Promise<SignerRow> {
  if (!SIGNER_NAME.test(input.name)) throw new HallmarkError('invalid_name', `signer name "${input.name}": lowercase letters, digits and dashes, at most 63`, 400);
  if (await findSigner(deps.store, input.name)) throw new HallmarkError('signer_exists', `a signer named "${input.name}" exists already`, 409);
  const purpose = input.purpose ?? 'firmware';
  const profile = input.profile ?? PURPOSES[purpose].defaultProfile;
  let row: SignerRow | undefined;
  await certifySignerKey(deps, { ...input, purpose, profile }, async (tx, issued, key) => {
    row = { name: input.name, ...key, profile, purpose, two_person: input.twoPerson ?? false, created_by: input.actor, created_at: deps.issue.clock.now().getTime() };
    await insertSigner(tx, row);
    await deps.audit.recordIn(tx, { actor: input.actor, action: 'signer.create', target: input.name, outcome: 'success', source: input.source, details: { ca: issued.issuer, serial: issued.serial, keyType: key.key_type, purpose, twoPerson: input.twoPerson ?? false } });
  });
  return row!;
}

/** A signer key's fields as signers and signer_keys record them. */
export type SignerKeyFields = Pick<SignerRow, 'ca' | 'key_uri' | 'key_type' | 'serial' | 'certificate' | 'not_before' | 'not_after'>;

/**
 * A key generated on the token for signer `name` and certified under `profile` (which must grant the
 * purpose's usage); `record` writes what refers to it in the transaction that records the certificate.
 * When anything fails before that commits, the key is destroyed: nothing certified it.
 */
export async function certifySignerKey(
  deps: SignerDeps,
  input: { name: string; purpose: SignerPurpose; profile: string; ca?: string; keyType?: string; requester: Requester; actor: string; source?: string },
  record: (tx: StoreTx, issued: IssuedCertificate, key: SignerKeyFields) => Promise<void>,
): Promise<SignerKeyFields> {
  const keyType = (input.keyType ?? 'ec-p256') as SignerKeyType;
  if (!SIGNER_KEY_TYPES.includes(keyType)) throw new HallmarkError('invalid_key_type', `signer key type "${input.keyType}": one of ${SIGNER_KEY_TYPES.join(', ')}`, 400);
  const { defaultProfile, usage } = PURPOSES[input.purpose];
  const profile = deps.issue.profiles.get(input.profile);
  if (!profile) throw new HallmarkError('unknown_profile', `no profile named "${input.profile}": add ca-config/profiles/${defaultProfile}.yaml (docs/firmware-signing.md)`, 409);
  if (!(profile.extendedKeyUsage as readonly string[]).includes(usage) && !(profile.keyUsage as readonly string[]).includes(usage)) throw new HallmarkError('wrong_profile', `profile "${input.profile}" does not grant ${usage}: a ${input.purpose} signer needs one that does`, 400);
  const uri = { token: deps.tokenLabel, object: `hallmark-signer-${input.name}-${randomBytes(4).toString('hex')}` };
  // The SCEP RA's RSA key also decrypts what clients encrypt to it (on the token, C_Decrypt).
  const key = await deps.keys.createKey(uri, keyType, { decrypt: input.purpose === 'scep' });
  let fields: SignerKeyFields | undefined;
  const recordWith = async (tx: StoreTx, issued: IssuedCertificate) => {
    fields = { ca: issued.issuer, key_uri: formatKeyUri(uri), key_type: keyType, serial: issued.serial, certificate: Buffer.from(issued.der), not_before: issued.notBefore.getTime(), not_after: issued.notAfter.getTime() };
    await record(tx, issued, fields);
  };
  try {
    const [issued] = await issueBatch(deps.issue, [{ csr: requestForOwnKey(key.spki), profile: input.profile, identity: input.name, issuer: input.ca ? deps.issue.issuers.get(input.ca).name : undefined, requester: input.requester, actor: input.actor, source: input.source, recordWith }]);
    if (issued instanceof Error) throw issued;
  } catch (e) {
    // Nothing certified the key: it goes, as a failed CA ceremony's key does.
    await deps.keys.deleteKey(uri).catch(() => undefined);
    throw e;
  }
  return fields!;
}

/** The signer's record by name; 404 when there is none. Its key is not looked up (a retired signer has none). */
export async function requireSigner(store: Store, name: string): Promise<SignerRow> {
  const row = await findSigner(store, name);
  if (!row) throw new HallmarkError('unknown_signer', `no signer named "${name}" (hallmark signer list)`, 404);
  return row;
}

/** The signer by name, with its key and chain; 404 when there is none. */
export const loadSigner = async (deps: SignerDeps, name: string): Promise<LoadedSigner> => loadSignerRow(deps, await requireSigner(deps.store, name));

// Token keys by URI, per key store: finding a key on the token is a PKCS#11 search, not a per-signature cost.
const keysFound = new WeakMap<KeyStore, Map<string, Promise<Signer>>>();
function tokenKey(keys: KeyStore, uri: string): Promise<Signer> {
  let found = keysFound.get(keys);
  if (!found) keysFound.set(keys, (found = new Map()));
  let key = found.get(uri);
  if (!key) {
    key = keys.getSigner(parseKeyUri(uri));
    found.set(uri, key);
    key.catch(() => found.delete(uri)); // not kept when the search failed (a token briefly away)
  }
  return key;
}

// A signer's chain by its certificate's serial: the same bytes objects each time, so that what is made
// from them (cms.ts parses each certificate once) is kept with them.
const chains = new Map<string, Uint8Array[]>();

export async function loadSignerRow(deps: SignerDeps, row: SignerRow): Promise<LoadedSigner> {
  let chain = chains.get(row.serial);
  if (!chain) {
    chain = keyChain(deps, row);
    if (chains.size > 1000) chains.clear();
    chains.set(row.serial, chain);
  }
  return { row, key: await tokenKey(deps.keys, row.key_uri), chain };
}

/**
 * A key's chain: its certificate, then the CAs below the root of the generation that issued it; the
 * certificate alone when that generation no longer issues anything (retired, or revoked after a
 * compromise: such a signer signs nothing until it is rolled over, releases.ts).
 */
export function keyChain(deps: SignerDeps, key: Pick<SignerRow, 'certificate' | 'ca'>): Uint8Array[] {
  const certificate = new Uint8Array(key.certificate);
  return caIsLive(deps, key.ca) ? [certificate, ...deps.issue.issuers.exact(key.ca).chain] : [certificate];
}

/** Whether a CA generation is loaded to issue and vouch (not retired, not revoked). */
export function caIsLive(deps: SignerDeps, ca: string): boolean {
  try {
    deps.issue.issuers.exact(ca);
    return true;
  } catch {
    return false;
  }
}

/** The chain as PEM, the signer's certificate first. */
export const chainPem = (chain: Uint8Array[]) => chain.map((der) => toPem(der, 'CERTIFICATE'));

/** A signer as the CLI and REST show it. */
export function signerView(row: SignerRow) {
  return {
    name: row.name,
    ca: row.ca,
    keyType: row.key_type,
    purpose: row.purpose,
    status: row.status ?? 'active',
    generation: Number(row.generation ?? 1),
    twoPerson: Boolean(row.two_person),
    serial: row.serial,
    notBefore: new Date(Number(row.not_before)).toISOString(),
    notAfter: new Date(Number(row.not_after)).toISOString(),
    createdBy: row.created_by,
    createdAt: new Date(Number(row.created_at)).toISOString(),
  };
}


/**
 * A signer as `signer show` and GET /signers/<name> answer it: its chain, and the keys rollovers
 * replaced. From the records alone: a retired or revoked signer's key is gone from the token.
 */
export async function signerWithKeys(deps: SignerDeps, row: SignerRow) {
  const previous = await signerKeys(deps.store, row.name);
  return {
    ...signerView(row),
    chain: chainPem(keyChain(deps, row)),
    previousKeys: previous.map((key) => ({
      serial: key.serial,
      generation: Number(key.generation),
      state: key.state,
      notAfter: new Date(Number(key.not_after)).toISOString(),
      replacedAt: new Date(Number(key.replaced_at)).toISOString(),
      ...(key.verifiable_until === null ? {} : { verifiableUntil: new Date(Number(key.verifiable_until)).toISOString() }),
      chain: chainPem(keyChain(deps, key)),
    })),
  };
}
