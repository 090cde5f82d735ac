import { verify } from 'node:crypto';
import { publicKeyOf, TPM_ALG, TpmFormatError, tpmName, TpmReader, type TpmPublic } from './tpm-public.js';

/** TPM_GENERATED_VALUE and TPM_ST_ATTEST_CERTIFY (TPM 2.0 Part 2 §6.2, §6.9). */
const TPM_GENERATED = 0xff544347;
const TPM_ST_ATTEST_CERTIFY = 0x8017;
const TPM_ALG_ECDSA = 0x0018;
const TPM_ALG_RSASSA = 0x0014;
const HASH_NAMES: Record<number, string> = { [TPM_ALG.SHA1]: 'sha1', [TPM_ALG.SHA256]: 'sha256', [TPM_ALG.SHA384]: 'sha384', [TPM_ALG.SHA512]: 'sha512' };

/** What a TPMS_ATTEST of TPM2_Certify says (Part 2 §10.12.8, §10.12.3). */
export interface CertifyInfo {
  qualifiedSigner: Uint8Array;
  extraData: Uint8Array;
  clock: bigint;
  resetCount: number;
  restartCount: number;
  safe: boolean;
  firmwareVersion: bigint;
  /** The Name of the object certified. */
  name: Uint8Array;
  qualifiedName: Uint8Array;
}

export function parseCertifyAttest(attest: Uint8Array): CertifyInfo {
  const r = new TpmReader(attest);
  if (r.u32() !== TPM_GENERATED) throw new TpmFormatError('not TPM-generated (magic)');
  if (r.u16() !== TPM_ST_ATTEST_CERTIFY) throw new TpmFormatError('not a TPM2_Certify attestation');
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
  return { qualifiedSigner, extraData, clock, resetCount, restartCount, safe, firmwareVersion, name, qualifiedName };
}

/**
 * Checks a TPM2_Certify of `key` by the attestation key `ak` (Part 3 §18.2): the TPMT_SIGNATURE
 * (ECDSA or RSASSA) by the AK over the TPMS_ATTEST, which must be TPM-generated, certify exactly this
 * key's Name, and carry `nonce` as its extraData (qualifyingData). Returns what it says, or throws.
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
