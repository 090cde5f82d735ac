import { createHash, timingSafeEqual } from 'node:crypto';
import { HallmarkError } from '../base/errors.js';
import { answerTpmChallenge, findTpmChallenge } from '../store/attestation.js';
import { verifyCertify } from './certify.js';
import { trustedEk } from './ek-certificate.js';
import { parsePublic, type AttestationDeps } from './challenge.js';
import { publicKeyOf, TpmFormatError } from './tpm-public.js';
import type { AttestedKey } from './attested-key.js';

export interface ChallengeAnswer {
  challenge: string;
  identity: string;
  requester: string;
  actor: string;
  source?: string;
  /** What TPM2_ActivateCredential recovered. */
  activatedSecret: Uint8Array;
  /** TPMS_ATTEST and TPMT_SIGNATURE of TPM2_Certify (or TPM2_CertifyCreation) by the AK over the challenge's nonce. */
  attestation: Uint8Array;
  signature: Uint8Array;
}

/**
 * Step 2 of attested enrollment: a challenge is answered once (right or wrong) before it expires, by
 * whoever asked for it and for the same identity. The recovered credential proves the AK is in the
 * TPM of the EK; the AK's attestation over the nonce proves the device key is in that TPM too. The
 * result is the only AttestedKey there is; anything short of it is refused with its reason, and audited.
 */
export async function redeemTpmChallenge(deps: AttestationDeps, answer: ChallengeAnswer): Promise<AttestedKey & { profile: string }> {
  const row = await findTpmChallenge(deps.store, answer.challenge);
  if (!row) throw new HallmarkError('unknown_challenge', `no attestation challenge "${answer.challenge}"; ask for one first (POST …/attestation/challenges)`, 404);
  if (row.requester !== answer.requester || row.identity !== answer.identity) throw new HallmarkError('challenge_not_yours', 'this challenge was made for another identity or requester', 403);
  const now = deps.clock.now();
  const refuse = async (code: string, message: string, status = 403) => {
    await deps.audit.record({ actor: answer.actor, action: 'attestation.verify', target: answer.identity, outcome: 'failure', source: answer.source, details: { challenge: row.id, ek: row.ek_id, reason: message } });
    return new HallmarkError(code, message, status);
  };
  if (!(await answerTpmChallenge(deps.store, row.id, now.getTime()))) throw await refuse('challenge_used', 'this challenge was answered already (a challenge answers once): ask for a new one', 409);
  if (Number(row.expires_at) < now.getTime()) throw await refuse('challenge_expired', `this challenge expired at ${new Date(Number(row.expires_at)).toISOString()}: ask for a new one`, 410);
  const recovered = createHash('sha256').update(answer.activatedSecret).digest();
  if (!timingSafeEqual(recovered, Buffer.from(row.secret_sha256, 'hex'))) {
    throw await refuse('activation_failed', 'the credential was not recovered: the attestation key is not in the TPM that holds this endorsement key (TPM2_ActivateCredential)');
  }
  const ak = parsePublic('akPublic', row.ak_public);
  const key = parsePublic('keyPublic', row.key_public);
  let evidence;
  try {
    evidence = verifyCertify({ ak, key, attest: answer.attestation, signature: answer.signature, nonce: Buffer.from(row.nonce, 'hex') });
  } catch (e) {
    if (e instanceof TpmFormatError) throw await refuse('attestation_invalid', `the key attestation is refused: ${e.message}`);
    throw e;
  }
  // The EK's trust is checked again: a manufacturer removed from attestation.tpmRoots meanwhile counts.
  const profile = deps.profiles.get(row.profile);
  const ek = await trustedEk({ ek: parsePublic('ekPublic', row.ek_public), certificate: row.ek_certificate ?? undefined, anchors: deps.anchors, now, certificateRequired: profile?.attestation?.ekCertificate !== 'optional' }).catch(async (e: Error) => {
    throw await refuse((e as HallmarkError).code ?? 'ek_untrusted', e.message);
  });
  return {
    attested: 'tpm',
    spkiDer: new Uint8Array(publicKeyOf(key).export({ type: 'spki', format: 'der' })),
    ek,
    challenge: row.id,
    profile: row.profile,
    evidence: { kind: evidence.kind, clock: evidence.clock.toString(), resetCount: evidence.resetCount, restartCount: evidence.restartCount, safe: evidence.safe, firmwareVersion: evidence.firmwareVersion.toString(16) },
  };
}
