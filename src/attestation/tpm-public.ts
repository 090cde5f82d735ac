import { createHash, createPublicKey, type KeyObject } from 'node:crypto';

/**
 * TPM 2.0 public areas (TPM 2.0 Part 2 §12.2.4 TPMT_PUBLIC, §12.2.5 TPM2B_PUBLIC), read as the TPM
 * wrote them (big-endian). Only what attestation needs: the type, name algorithm, attributes, the
 * symmetric scheme of a storage key (an EK's), and the RSA modulus or ECC point.
 */
export const TPM_ALG = { RSA: 0x0001, SHA1: 0x0004, AES: 0x0006, SHA256: 0x000b, SHA384: 0x000c, SHA512: 0x000d, NULL: 0x0010, ECC: 0x0023, CFB: 0x0043 } as const;
const HASHES: Record<number, { name: string; size: number }> = { [TPM_ALG.SHA1]: { name: 'sha1', size: 20 }, [TPM_ALG.SHA256]: { name: 'sha256', size: 32 }, [TPM_ALG.SHA384]: { name: 'sha384', size: 48 }, [TPM_ALG.SHA512]: { name: 'sha512', size: 64 } };

export interface TpmPublic {
  /** The TPMT_PUBLIC bytes (its hash makes the object's Name). */
  area: Uint8Array;
  type: 'rsa' | 'ecc';
  nameAlg: { id: number; name: string; size: number };
  attributes: number;
  /** A storage key's (an EK's) symmetric algorithm: AES, its key bits, CFB. */
  symmetric?: { algorithm: number; keyBits: number; mode: number };
  rsa?: { keyBits: number; exponent: number; modulus: Uint8Array };
  ecc?: { curveId: number; x: Uint8Array; y: Uint8Array };
}

export class TpmFormatError extends Error {}

/** Reads TPM structures: big-endian integers and TPM2B (size-prefixed) fields, refusing to read past the end. */
export class TpmReader {
  private at = 0;
  constructor(private readonly bytes: Uint8Array) {}
  private take(n: number): Uint8Array {
    if (this.at + n > this.bytes.length) throw new TpmFormatError('truncated TPM structure');
    const v = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }
  u8 = () => this.take(1)[0]!;
  u16 = () => Buffer.from(this.take(2)).readUInt16BE();
  u32 = () => Buffer.from(this.take(4)).readUInt32BE();
  u64 = () => Buffer.from(this.take(8)).readBigUInt64BE();
  sized = () => this.take(this.u16());
  get done() {
    return this.at === this.bytes.length;
  }
}

/** TPM2B_PUBLIC → its TPMT_PUBLIC, parsed. Anything else is a TpmFormatError. */
export function parseTpm2bPublic(bytes: Uint8Array): TpmPublic {
  const outer = new TpmReader(bytes);
  const area = outer.sized();
  if (!outer.done) throw new TpmFormatError('bytes after the TPM2B_PUBLIC');
  return parseTpmtPublic(area);
}

export function parseTpmtPublic(area: Uint8Array): TpmPublic {
  const r = new TpmReader(area);
  const type = r.u16();
  const nameAlgId = r.u16();
  const nameAlg = HASHES[nameAlgId];
  if (!nameAlg) throw new TpmFormatError(`name algorithm 0x${nameAlgId.toString(16)} is not SHA-1 or SHA-2`);
  const attributes = r.u32();
  r.sized(); // authPolicy
  let symmetric: TpmPublic['symmetric'];
  const readSymmetric = () => {
    const algorithm = r.u16();
    if (algorithm === TPM_ALG.NULL) return undefined;
    return { algorithm, keyBits: r.u16(), mode: r.u16() };
  };
  const skipScheme = () => {
    if (r.u16() !== TPM_ALG.NULL) r.u16(); // the scheme's hash
  };
  if (type === TPM_ALG.RSA) {
    symmetric = readSymmetric();
    skipScheme();
    const keyBits = r.u16();
    const exponent = r.u32() || 65537;
    const modulus = r.sized();
    return { area, type: 'rsa', nameAlg: { id: nameAlgId, ...nameAlg }, attributes, symmetric, rsa: { keyBits, exponent, modulus } };
  }
  if (type === TPM_ALG.ECC) {
    symmetric = readSymmetric();
    skipScheme();
    const curveId = r.u16();
    if (r.u16() !== TPM_ALG.NULL) r.u16(); // kdf
    const x = r.sized();
    const y = r.sized();
    return { area, type: 'ecc', nameAlg: { id: nameAlgId, ...nameAlg }, attributes, symmetric, ecc: { curveId, x, y } };
  }
  throw new TpmFormatError(`key type 0x${type.toString(16)} is not RSA or ECC`);
}

/** An object's Name (Part 1 §16): its name algorithm's id, then that hash of its TPMT_PUBLIC. */
export function tpmName(pub: TpmPublic): Uint8Array {
  const digest = createHash(pub.nameAlg.name).update(pub.area).digest();
  return Uint8Array.from([pub.nameAlg.id >> 8, pub.nameAlg.id & 0xff, ...digest]);
}

/** TPMA_OBJECT bits attestation checks (Part 2 §8.3). */
export const TPMA_OBJECT = { fixedTPM: 1 << 1, fixedParent: 1 << 4, sensitiveDataOrigin: 1 << 5, restricted: 1 << 16, decrypt: 1 << 17, sign: 1 << 18 } as const;

const CURVES: Record<number, string> = { 0x0003: 'P-256', 0x0004: 'P-384', 0x0005: 'P-521' };

/** A TPM public key as a node:crypto key (ECC P-256/384/521 or RSA). */
export function publicKeyOf(pub: TpmPublic): KeyObject {
  const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64url');
  if (pub.type === 'ecc') {
    const crv = CURVES[pub.ecc!.curveId];
    if (!crv) throw new TpmFormatError(`ECC curve 0x${pub.ecc!.curveId.toString(16)} is not a NIST curve`);
    return createPublicKey({ key: { kty: 'EC', crv, x: b64(pub.ecc!.x), y: b64(pub.ecc!.y) }, format: 'jwk' });
  }
  const e = Buffer.alloc(4);
  e.writeUInt32BE(pub.rsa!.exponent);
  return createPublicKey({ key: { kty: 'RSA', n: b64(pub.rsa!.modulus), e: b64(e.subarray(e.findIndex((x) => x !== 0))) }, format: 'jwk' });
}
