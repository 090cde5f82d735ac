import { createHash, randomBytes } from 'node:crypto';
import type { AuditLog } from '../audit/log.js';
import type { Clock } from '../base/clock.js';
import { HallmarkError } from '../base/errors.js';
import type { Store } from '../store/handle.js';
import { findTpmBinding, insertTpmChallenge } from '../store/attestation.js';
import { requestForOwnKey } from '../x509/csr.js';
import { trustedEk, type EkIdentity } from './ek-certificate.js';
import { activationFile, makeCredential } from './make-credential.js';
import { parseTpm2bPublic, publicKeyOf, TPMA_OBJECT, TpmFormatError, tpmName, type TpmPublic } from './tpm-public.js';

/** What attested enrollment needs: where challenges live, the TPM manufacturers trusted, how long a challenge lasts. */
export interface AttestationDeps {
  store: Store;
  audit: AuditLog;
  clock: Clock;
  /** `attestation.tpmRoots`: the TPM manufacturers' EK CA certificates (DER). */
  anchors: Uint8Array[];
  challengeSeconds: number;
  /** The profiles, as far as attestation reads them (profiles/ depends on attestation/, not the other way). */
  profiles: ReadonlyMap<string, AttestationProfile>;
}

/** What attestation needs of a profile: the key types it certifies, and whether it takes a TPM without an EK certificate. */
export interface AttestationProfile {
  name: string;
  keyTypes: readonly string[];
  attestation?: { ekCertificate: 'required' | 'optional' };
}

export interface ChallengeRequest {
  identity: string;
  profile: string;
  /** Who asks, as the answer must again: `token:<id>` (a device with its one-time secret) or `station:<name>`. */
  requester: string;
  actor: string;
  source?: string;
  ekPublic: Uint8Array;
  ekCertificate?: Uint8Array;
  akPublic: Uint8Array;
  keyPublic: Uint8Array;
}

export interface TpmChallenge {
  id: string;
  /** TPM2_Certify's qualifyingData (TPM2_CertifyCreation's too). */
  nonce: Uint8Array;
  /** TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET for TPM2_ActivateCredential, and both in tpm2-tools' file format. */
  credentialBlob: Uint8Array;
  encryptedSecret: Uint8Array;
  activationFile: Uint8Array;
  expiresAt: Date;
  ek: EkIdentity;
}

const invalid = (field: string, e: unknown) => new HallmarkError('invalid_request', `${field}: ${e instanceof TpmFormatError ? e.message : 'not a TPM2B_PUBLIC'} (send the file tpm2-tools writes with -u, base64)`, 400);

export function parsePublic(field: string, bytes: Uint8Array): TpmPublic {
  try {
    return parseTpm2bPublic(bytes);
  } catch (e) {
    throw invalid(field, e);
  }
}

const ATTRIBUTE_NAMES: [number, string][] = [
  [TPMA_OBJECT.fixedTPM, 'fixedTPM'],
  [TPMA_OBJECT.fixedParent, 'fixedParent'],
  [TPMA_OBJECT.sensitiveDataOrigin, 'sensitiveDataOrigin'],
  [TPMA_OBJECT.sign, 'sign'],
];
const missing = (pub: TpmPublic) => ATTRIBUTE_NAMES.filter(([bit]) => !(pub.attributes & bit)).map(([, name]) => name);

/**
 * The keys' attributes (TPM 2.0 Part 2 §8.3): the AK is a restricted signing key that never leaves
 * the TPM (it signs only what the TPM generated, so its attestations cannot be forged with it); the
 * device key never leaves the TPM either (fixedTPM, fixedParent), was made inside it
 * (sensitiveDataOrigin), and signs without restriction (TLS needs that).
 */
function checkKeys(ek: TpmPublic, ak: TpmPublic, key: TpmPublic): void {
  if (!(ek.attributes & TPMA_OBJECT.restricted) || !(ek.attributes & TPMA_OBJECT.decrypt)) throw new HallmarkError('ek_unsuitable', 'ekPublic is not an endorsement key (a restricted decryption key)', 403);
  const akMissing = missing(ak);
  if (akMissing.length || !(ak.attributes & TPMA_OBJECT.restricted)) throw new HallmarkError('ak_unsuitable', `the attestation key must be a restricted signing key that never leaves the TPM; it lacks ${[...akMissing, ...(ak.attributes & TPMA_OBJECT.restricted ? [] : ['restricted'])].join(', ')} (make it with tpm2_createak)`, 403);
  const keyMissing = missing(key);
  if (keyMissing.length) throw new HallmarkError('key_not_hardware_bound', `the device key lacks ${keyMissing.join(', ')}: only a signing key made in the TPM that can never leave it is certified (tpm2_create -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign')`, 403);
  if (key.attributes & TPMA_OBJECT.restricted) throw new HallmarkError('key_not_hardware_bound', 'the device key is restricted: it signs only TPM-generated data and cannot do TLS', 403);
}

/**
 * Step 1 of attested enrollment (docs/tpm-attestation.md): checks the EK (its manufacturer's
 * certificate), the AK's and the device key's attributes, and that this TPM is not bound to another
 * identity; then makes a credential only this TPM can recover, and only for this AK
 * (TPM2_MakeCredential), and a nonce, and records the challenge. Nothing is issued yet.
 */
export async function openTpmChallenge(deps: AttestationDeps, request: ChallengeRequest): Promise<TpmChallenge> {
  const profile = deps.profiles.get(request.profile);
  if (!profile) throw new HallmarkError('unknown_profile', `no profile named "${request.profile}"`, 404);
  const ekPub = parsePublic('ekPublic', request.ekPublic);
  const ak = parsePublic('akPublic', request.akPublic);
  const key = parsePublic('keyPublic', request.keyPublic);
  const now = deps.clock.now();
  const fail = async (e: unknown) => {
    await deps.audit.record({ actor: request.actor, action: 'attestation.challenge', target: request.identity, outcome: 'failure', source: request.source, details: { reason: (e as Error).message } });
    return e;
  };
  try {
    checkKeys(ekPub, ak, key);
    const keyType = requestForOwnKey(new Uint8Array(publicKeyOf(key).export({ type: 'spki', format: 'der' }))).keyType;
    if (typeof keyType !== 'string' || !profile.keyTypes.includes(keyType)) {
      throw new HallmarkError('policy_violation', `profile "${profile.name}" refuses this request: the device key is ${typeof keyType === 'string' ? keyType : 'of an unsupported type'}; allowed: ${profile.keyTypes.join(', ')}`, 400);
    }
    const ek = await trustedEk({ ek: ekPub, certificate: request.ekCertificate, anchors: deps.anchors, now, certificateRequired: profile.attestation?.ekCertificate !== 'optional' });
    const binding = await findTpmBinding(deps.store, ek.id);
    if (binding && binding.identity !== request.identity) throw tpmBound(binding.identity);
    const secret = randomBytes(Math.min(32, ekPub.nameAlg.size));
    const nonce = randomBytes(32);
    const made = makeCredential(ekPub, tpmName(ak), secret);
    const id = randomBytes(16).toString('hex');
    const expiresAt = new Date(now.getTime() + deps.challengeSeconds * 1000);
    await insertTpmChallenge(deps.store, {
      id,
      identity: request.identity,
      profile: profile.name,
      requester: request.requester,
      nonce: nonce.toString('hex'),
      secret_sha256: createHash('sha256').update(secret).digest('hex'),
      ek_id: ek.id,
      ek_certificate: request.ekCertificate ?? null,
      ek_public: request.ekPublic,
      ak_public: request.akPublic,
      key_public: request.keyPublic,
      created_at: now.getTime(),
      expires_at: expiresAt.getTime(),
      answered_at: null,
    });
    await deps.audit.record({ actor: request.actor, action: 'attestation.challenge', target: request.identity, outcome: 'success', source: request.source, details: { challenge: id, profile: profile.name, ek: ek.id, manufacturer: ek.certificate?.manufacturer ?? null } });
    return { id, nonce, credentialBlob: made.credentialBlob, encryptedSecret: made.encryptedSecret, activationFile: activationFile(made), expiresAt, ek };
  } catch (e) {
    throw await fail(e);
  }
}

export const tpmBound = (identity: string) =>
  new HallmarkError('tpm_bound', `this TPM already holds the identity "${identity}": one TPM, one identity (re-provisioning that device releases it: hallmark device reprovision ${identity})`, 409);
