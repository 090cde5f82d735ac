import { verify } from 'node:crypto';
import { publicKeyOf, TPM_ALG, TpmFormatError, tpmName, TpmReader, type TpmPublic } from './tpm-public.js';

/** TPM_GENERATED_VALUE, TPM_ST_ATTEST_CERTIFY and TPM_ST_ATTEST_CREATION (TPM 2.0 Part 2 §6.2, §6.9). */
const TPM_GENERATED = 0xff544347;
const TPM_ST_ATTEST_CERTIFY = 0x8017;
const TPM_ST_ATTEST_CREATION = 0x801a;
const TPM_ALG_ECDSA = 0x0018;
const TPM_ALG_RSASSA = 0x0014;
const HASH_NAMES: Record<number, string> = { [TPM_ALG.SHA1]: 'sha1', [TPM_ALG.SHA256]: 'sha256', [TPM_ALG.SHA384]: 'sha384', [TPM_ALG.SHA512]: 'sha512' };

/**
 * What a TPMS_ATTEST of TPM2_Certify or TPM2_CertifyCreation says (Part 2 §10.12.8; the attested part
 * §10.12.3 TPMS_CERTIFY_INFO or §10.12.5 TPMS_CREATION_INFO).
 */
export interface CertifyInfo {
  /** certify: TPM2_Certify (the key is loaded in this TPM); creation: TPM2_CertifyCreation (this TPM created it). */
  kind: 'certify' | 'creation';
  qualifiedSigner: Uint8Array;
  extraData: Uint8Array;
  clock: bigint;
  resetCount: number;
  restartCount: number;
  safe: boolean;
  firmwareVersion: bigint;
  /** The Name of the object certified. */
  name: Uint8Array;
  /** certify: its qualified name; creation: the creationHash. */
  qualifiedName: Uint8Array;
}

export function parseCertifyAttest(attest: Uint8Array): CertifyInfo {
  const r = new TpmReader(attest);
  if (r.u32() !== TPM_GENERATED) throw new TpmFormatError('not TPM-generated (magic)');
  const type = r.u16();
  if (type !== TPM_ST_ATTEST_CERTIFY && type !== TPM_ST_ATTEST_CREATION) throw new TpmFormatError('not a TPM2_Certify or TPM2_CertifyCreation attestation');
  const qualifiedSigner = r.sized();
  const extraData = r.sized();
  const clock = r.u64();
  const resetCount = r.u32();
  const restartCount = r.u32();
  const safe = r.u8() === 1;
  const firmwareVersion = r.u64();
  const name = r.sized();
  const qualifiedName = r.sized();
  if (!r.done) throw new TpmFormatError('bytes after the attestation');
  return { kind: type === TPM_ST_ATTEST_CERTIFY ? 'certify' : 'creation', qualifiedSigner, extraData, clock, resetCount, restartCount, safe, firmwareVersion, name, qualifiedName };
}

/**
 * Checks a TPM2_Certify (Part 3 §18.2) or TPM2_CertifyCreation (§18.3) of `key` by the attestation key
 * `ak`: the TPMT_SIGNATURE (ECDSA or RSASSA) by the AK over the TPMS_ATTEST, which must be
 * TPM-generated, name exactly this key, and carry `nonce` as its extraData (qualifyingData). A
 * restricted signing key (the AK) signs only what the TPM generated, so the magic can be trusted once
 * the signature verifies. Returns what it says, or throws.
 */
export function verifyCertify(input: { ak: TpmPublic; key: TpmPublic; attest: Uint8Array; signature: Uint8Array; nonce: Uint8Array }): CertifyInfo {
  const info = parseCertifyAttest(input.attest);
  const s = new TpmReader(input.signature);
  const algorithm = s.u16();
  const hash = HASH_NAMES[s.u16()];
  if (!hash) throw new TpmFormatError('the attestation signature uses an unknown hash');
  let ok: boolean;
  if (algorithm === TPM_ALG_ECDSA) {
    const r = s.sized();
    const sig = s.sized();
    const size = input.ak.ecc?.x.length ?? 0;
    ok = verify(hash, input.attest, { key: publicKeyOf(input.ak), dsaEncoding: 'ieee-p1363' }, Buffer.concat([pad(r, size), pad(sig, size)]));
  } else if (algorithm === TPM_ALG_RSASSA) {
    ok = verify(hash, input.attest, publicKeyOf(input.ak), s.sized());
  } else throw new TpmFormatError(`attestation signature algorithm 0x${algorithm.toString(16)}: ECDSA or RSASSA`);
  if (!ok) throw new TpmFormatError('the attestation signature does not verify with the attestation key');
  if (Buffer.compare(Buffer.from(info.extraData), Buffer.from(input.nonce)) !== 0) throw new TpmFormatError('the attestation is not over this nonce (stale or replayed)');
  if (Buffer.compare(Buffer.from(info.name), Buffer.from(tpmName(input.key))) !== 0) throw new TpmFormatError('the attestation certifies another key than the one presented');
  return info;
}

/** r or s at the curve's size (IEEE P1363), left-padded with zeros. */
function pad(value: Uint8Array, size: number): Buffer {
  if (value.length > size) throw new TpmFormatError('an ECDSA signature value longer than the curve');
  return Buffer.concat([Buffer.alloc(size - value.length), value]);
}
