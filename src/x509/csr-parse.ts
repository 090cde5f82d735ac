import { createPublicKey, verify as verifySignature, constants, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { RsaSaPssParams } from '@peculiar/asn1-rsa';
import { DerError, children, content, expectTag, oidText, readTlv, whole, type Tlv } from './der-reader.js';
import { ATTRIBUTE_OIDS } from './names.js';
import type { KeyType } from './key-types.js';
import { CURVES } from './spki.js';
import { EC_VERIFY_BITS, verifyEcdsa } from './ec-verify.js';

/**
 * PKCS#10 (RFC 2986) taken apart with the DER walker and its signature checked (EC keys natively, see
 * ec-verify.ts; others with node:crypto), so that it can run thousands of times a second (and inside
 * worker threads: everything here is plain data). The CertificationRequestInfo is verified exactly as
 * the device signed it.
 */
export interface ParsedCsr {
  der: Uint8Array;
  spkiDer: Uint8Array;
  keyType: KeyType | { unsupported: string };
  /** RFC 4514-style text of the subject, most significant first as written. */
  subject: string;
  commonName?: string;
  /** DER of the extensionRequest attribute's Extensions (PKCS#9, RFC 2985 §5.4.2), when present. */
  extensionRequest?: Uint8Array;
  /** Attribute OIDs other than extensionRequest and challengePassword, which Hallmark ignores. */
  otherAttributes: string[];
  /** PKCS#9 challengePassword (RFC 2985 §5.4.1): where EST clients put their channel binding (RFC 7030 §3.5). */
  challengePassword?: string;
  /**
   * The key the client asks a server-generated private key to be encrypted to (RFC 7030 §4.4.1.1
   * DecryptKeyIdentifier, §4.4.1.2 AsymmetricDecryptKeyIdentifier), when the request names one.
   */
  decryptKey?: { kind: 'symmetric' | 'asymmetric'; id: Uint8Array };
}

export type CsrProblem = { code: 'csr_invalid' | 'csr_signature'; message: string };

const ID_EC = '1.2.840.10045.2.1';
const ID_RSA = '1.2.840.113549.1.1.1';
const ID_ED25519 = '1.3.101.112';
const ID_RSASSA_PSS = '1.2.840.113549.1.1.10';
const ID_EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const ID_CHALLENGE_PASSWORD = '1.2.840.113549.1.9.7';
/** id-aa-decryptKeyID and id-aa-asymmDecryptKeyID (RFC 7030 §4.4.1.1, §4.4.1.2). */
const DECRYPT_KEY_ATTRIBUTES: Record<string, 'symmetric' | 'asymmetric'> = { '1.2.840.113549.1.9.16.2.37': 'symmetric', '1.2.840.113549.1.9.16.2.54': 'asymmetric' };

/** Signature algorithms a CSR may use; SHA-1 is refused (RFC 5758 / RFC 8017 hashes only). */
const SIGNATURES: Record<string, { hash: string | null; kind: 'ecdsa' | 'rsa' | 'ed25519' }> = {
  '1.2.840.10045.4.3.2': { hash: 'sha256', kind: 'ecdsa' },
  '1.2.840.10045.4.3.3': { hash: 'sha384', kind: 'ecdsa' },
  '1.2.840.10045.4.3.4': { hash: 'sha512', kind: 'ecdsa' },
  '1.2.840.113549.1.1.11': { hash: 'sha256', kind: 'rsa' },
  '1.2.840.113549.1.1.12': { hash: 'sha384', kind: 'rsa' },
  '1.2.840.113549.1.1.13': { hash: 'sha512', kind: 'rsa' },
  [ID_ED25519]: { hash: null, kind: 'ed25519' },
};
const HASH_OIDS: Record<string, string> = { '2.16.840.1.101.3.4.2.1': 'sha256', '2.16.840.1.101.3.4.2.2': 'sha384', '2.16.840.1.101.3.4.2.3': 'sha512' };
const SHORT_NAMES: Record<string, string> = Object.fromEntries(Object.entries(ATTRIBUTE_OIDS).map(([k, v]) => [v, k]));
/** Directory string types whose content is text (UTF8String, PrintableString, T61, IA5, BMPString). */
const STRING_TAGS = new Set([0x0c, 0x13, 0x14, 0x16, 0x1e]);

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const strictUtf16 = new TextDecoder('utf-16le', { fatal: true });
/** X.680 §41.4 PrintableString: letters, digits, space and '()+,-./:=? */
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/** A name's text, decoded strictly: a string its type cannot hold is refused, never replaced. */
function directoryString(bytes: Uint8Array, tag: number): string {
  try {
    if (tag === 0x1e) {
      // BMPString is UTF-16BE: two bytes a character.
      if (bytes.length % 2) throw new DerError('BMPString of odd length');
      const swapped = Buffer.from(bytes);
      swapped.swap16();
      return strictUtf16.decode(swapped);
    }
    if (tag === 0x0c) return strictUtf8.decode(bytes);
  } catch (e) {
    if (e instanceof DerError) throw e;
    throw new DerError(`${tag === 0x0c ? 'UTF8String' : 'BMPString'} is not valid ${tag === 0x0c ? 'UTF-8' : 'UTF-16'}`);
  }
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  if (tag === 0x13 && !PRINTABLE.test(text)) throw new DerError('PrintableString holds characters outside its set');
  if (tag === 0x16 && /[^\x00-\x7f]/.test(text)) throw new DerError('IA5String holds bytes outside ASCII');
  return text;
}

function readName(bytes: Uint8Array, name: ReturnType<typeof readTlv>): { text: string; commonName?: string } {
  const parts: string[] = [];
  let commonName: string | undefined;
  for (const rdn of children(bytes, expectTag(name, 0x30, 'subject'))) {
    const values: string[] = [];
    for (const atv of children(bytes, expectTag(rdn, 0x31, 'RelativeDistinguishedName'))) {
      const [type, value] = children(bytes, expectTag(atv, 0x30, 'AttributeTypeAndValue'));
      const oid = oidText(content(bytes, expectTag(type, 0x06, 'attribute type')));
      if (!value) throw new DerError('attribute without a value');
      const text = STRING_TAGS.has(value.tag) ? directoryString(content(bytes, value), value.tag) : `#${Buffer.from(whole(bytes, value)).toString('hex')}`;
      if (oid === ATTRIBUTE_OIDS.CN && commonName === undefined) commonName = text;
      values.push(`${SHORT_NAMES[oid] ?? oid}=${text}`);
    }
    parts.push(values.join('+'));
  }
  return { text: parts.join(', '), commonName };
}

function keyTypeOfSpki(bytes: Uint8Array, spki: ReturnType<typeof readTlv>, key: KeyObject | undefined): KeyType | { unsupported: string } {
  const [algorithm] = children(bytes, spki);
  const [oidTlv, params] = children(bytes, expectTag(algorithm, 0x30, 'SubjectPublicKeyInfo algorithm'));
  const oid = oidText(content(bytes, expectTag(oidTlv, 0x06, 'key algorithm')));
  if (oid === ID_EC) {
    if (!params || params.tag !== 0x06) return { unsupported: 'EC key without named curve' };
    const curve = oidText(content(bytes, params));
    return CURVES[curve] ?? { unsupported: `EC curve ${curve}` };
  }
  if (oid === ID_RSA) {
    const bits = key?.asymmetricKeyDetails?.modulusLength ?? 0;
    const name = `rsa-${bits}`;
    return ['rsa-2048', 'rsa-3072', 'rsa-4096'].includes(name) ? (name as KeyType) : { unsupported: `RSA ${bits}-bit` };
  }
  if (oid === ID_ED25519) return 'ed25519';
  return { unsupported: `algorithm ${oid}` };
}

/** How the request's signature is checked: an EC point on a named curve goes to the native verifier, the rest to node:crypto. */
type RequestKey = { point: Uint8Array; curveBits: number } | { key: KeyObject };

function requestKeyOf(bytes: Uint8Array, spki: ReturnType<typeof readTlv>, spkiDer: Uint8Array): RequestKey {
  const [algorithm, bits] = children(bytes, spki);
  const [oidTlv, params] = children(bytes, expectTag(algorithm, 0x30, 'SubjectPublicKeyInfo algorithm'));
  if (params?.tag === 0x06 && oidText(content(bytes, expectTag(oidTlv, 0x06, 'key algorithm'))) === ID_EC) {
    const curve = CURVES[oidText(content(bytes, params))];
    const curveBits = curve && EC_VERIFY_BITS[curve];
    const subjectPublicKey = content(bytes, expectTag(bits, 0x03, 'subjectPublicKey'));
    if (curveBits && subjectPublicKey[0] === 0) return { point: subjectPublicKey.subarray(1), curveBits };
  }
  return { key: createPublicKey({ key: Buffer.from(spkiDer), format: 'der', type: 'spki' }) };
}

/**
 * Why a request on an EC key failed, when the key itself is the reason (not on the curve, badly
 * encoded): the native verifier only says no, so OpenSSL's full import is asked, on failures only.
 */
function unusableEcKey(bytes: Uint8Array, spki: ReturnType<typeof readTlv>, spkiDer: Uint8Array): CsrProblem | undefined {
  try {
    createPublicKey({ key: Buffer.from(spkiDer), format: 'der', type: 'spki' });
    return undefined;
  } catch (e) {
    return keyUnusable(bytes, spki, e);
  }
}

function keyUnusable(bytes: Uint8Array, spki: ReturnType<typeof readTlv>, e: unknown): CsrProblem {
  const type = keyTypeOfSpki(bytes, spki, undefined);
  return { code: 'csr_signature', message: `cannot verify the CSR signature: the public key (${typeof type === 'string' ? type : type.unsupported}) cannot be used: ${(e as Error).message}` };
}

function verifyRequestSignature(bytes: Uint8Array, info: Uint8Array, algorithm: ReturnType<typeof readTlv>, signature: Uint8Array, requestKey: RequestKey): CsrProblem | undefined {
  const [oidTlv, params] = children(bytes, expectTag(algorithm, 0x30, 'signatureAlgorithm'));
  const oid = oidText(content(bytes, expectTag(oidTlv, 0x06, 'signature algorithm')));
  const keyKind = 'point' in requestKey ? 'ec' : requestKey.key.asymmetricKeyType;
  let ok: boolean;
  try {
    if (oid === ID_RSASSA_PSS) {
      // RFC 4055 §3.1: hash and salt length come from the parameters.
      if (!params) return { code: 'csr_signature', message: 'RSASSA-PSS signature without parameters' };
      if ('point' in requestKey) return { code: 'csr_signature', message: 'RSASSA-PSS signature on a key that is not RSA' };
      const pss = AsnConvert.parse(whole(bytes, params), RsaSaPssParams);
      const hash = HASH_OIDS[pss.hashAlgorithm.algorithm];
      if (!hash) return { code: 'csr_signature', message: `RSASSA-PSS with hash ${pss.hashAlgorithm.algorithm} is not accepted` };
      ok = verifySignature(hash, info, { key: requestKey.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: pss.saltLength }, signature);
    } else {
      const alg = SIGNATURES[oid];
      if (!alg) return { code: 'csr_signature', message: `CSR signature algorithm ${oid} is not accepted (use ECDSA or RSA with SHA-256 or stronger, or Ed25519)` };
      if (alg.kind === 'ecdsa' && keyKind !== 'ec') return { code: 'csr_signature', message: 'ECDSA signature on a key that is not EC' };
      if (alg.kind === 'rsa' && keyKind !== 'rsa') return { code: 'csr_signature', message: 'RSA signature on a key that is not RSA' };
      if (alg.kind === 'ed25519' && keyKind !== 'ed25519') return { code: 'csr_signature', message: 'Ed25519 signature on a key that is not Ed25519' };
      if ('point' in requestKey) ok = verifyEcdsa(requestKey.curveBits, requestKey.point, alg.hash!, info, signature);
      else if (alg.kind === 'rsa') ok = verifySignature(alg.hash, info, { key: requestKey.key, padding: constants.RSA_PKCS1_PADDING }, signature);
      else ok = verifySignature(alg.hash, info, requestKey.key, signature);
    }
  } catch (e) {
    return { code: 'csr_signature', message: `cannot verify the CSR signature: ${(e as Error).message}` };
  }
  return ok ? undefined : { code: 'csr_signature', message: 'CSR signature does not verify (no proof of possession of the key)' };
}

/** Parses a DER CertificationRequest and checks its self-signature; returns the request or what is wrong with it. */
export function parseAndVerifyCsr(der: Uint8Array): ParsedCsr | CsrProblem {
  try {
    const outer = expectTag(readTlv(der, 0), 0x30, 'CertificationRequest');
    if (outer.end !== der.length) return { code: 'csr_invalid', message: `CSR is not a valid PKCS#10 request: ${der.length - outer.end} bytes after the request` };
    const [infoTlv, algorithm, signatureTlv, extra] = children(der, outer);
    if (extra) throw new DerError('CertificationRequest has more than three elements');
    const [version, subject, spki, attributes, more] = children(der, expectTag(infoTlv, 0x30, 'CertificationRequestInfo'));
    if (more) throw new DerError('CertificationRequestInfo has unexpected elements');
    const v = content(der, expectTag(version, 0x02, 'version'));
    if (v.length !== 1 || v[0] !== 0) throw new DerError('version is not v1 (0)');
    const name = readName(der, subject!);
    expectTag(spki, 0x30, 'subjectPKInfo');
    expectTag(attributes, 0xa0, 'attributes');
    const sigBits = content(der, expectTag(signatureTlv, 0x03, 'signature'));
    if (sigBits[0] !== 0) throw new DerError('signature BIT STRING with unused bits');
    const spkiDer = der.slice(spki!.start, spki!.end);

    let requestKey: RequestKey;
    try {
      requestKey = requestKeyOf(der, spki!, spkiDer);
    } catch (e) {
      return keyUnusable(der, spki!, e);
    }
    const problem = verifyRequestSignature(der, whole(der, infoTlv!), algorithm!, sigBits.subarray(1), requestKey);
    if (problem) return 'point' in requestKey ? (unusableEcKey(der, spki!, spkiDer) ?? problem) : problem;

    let extensionRequest: Uint8Array | undefined;
    let challengePassword: string | undefined;
    let decryptKey: ParsedCsr['decryptKey'];
    const otherAttributes: string[] = [];
    for (const attribute of children(der, attributes!)) {
      const [typeTlv, values] = children(der, expectTag(attribute, 0x30, 'Attribute'));
      const oid = oidText(content(der, expectTag(typeTlv, 0x06, 'attribute type')));
      if (oid === ID_CHALLENGE_PASSWORD) {
        // SET SIZE (1) OF DirectoryString (RFC 2985 §5.4.1).
        const [value, extra] = children(der, expectTag(values, 0x31, 'challengePassword values'));
        if (!value || extra || !STRING_TAGS.has(value.tag)) throw new DerError('challengePassword is not one DirectoryString');
        challengePassword = directoryString(content(der, value), value.tag);
        continue;
      }
      const decryptKind = DECRYPT_KEY_ATTRIBUTES[oid];
      if (decryptKind) {
        // SET SIZE (1) OF OCTET STRING, and one such attribute in a request.
        const [value, extra] = children(der, expectTag(values, 0x31, 'decrypt key identifier values'));
        if (!value || extra || value.tag !== 0x04 || decryptKey) throw new DerError('a decrypt key identifier attribute is not one OCTET STRING, or is repeated');
        decryptKey = { kind: decryptKind, id: der.slice(value.contentStart, value.end) };
        continue;
      }
      if (oid !== ID_EXTENSION_REQUEST) {
        otherAttributes.push(oid);
        continue;
      }
      const [extensions] = children(der, expectTag(values, 0x31, 'extensionRequest values'));
      if (extensions) extensionRequest = der.slice(extensions.start, extensions.end);
    }
    return { der, spkiDer, keyType: keyTypeOfSpki(der, spki!, 'key' in requestKey ? requestKey.key : undefined), subject: name.text, commonName: name.commonName, extensionRequest, otherAttributes, challengePassword, decryptKey };
  } catch (e) {
    // Whatever the parser cannot read is this request's 400, never an exception that fails its batch.
    return { code: 'csr_invalid', message: `CSR is not a valid PKCS#10 request: ${e instanceof DerError ? e.message : (e as Error)?.message ?? String(e)}` };
  }
}

export const isCsrProblem = (r: ParsedCsr | CsrProblem): r is CsrProblem => 'code' in r;

/**
 * Proof of possession outside PKCS#10 (a CRMF POPOSigningKey, RFC 4211 §4.1): `signed` signed by the
 * key whose SubjectPublicKeyInfo is `spki` (a TLV in `bytes`) with the algorithm at `algorithm`, checked
 * as a CSR's self-signature is. The key's DER and type, or the problem.
 */
export function verifySignedByKey(bytes: Uint8Array, spki: Tlv, signed: Uint8Array, algorithm: Tlv, signature: Uint8Array): { spkiDer: Uint8Array; keyType: KeyType | { unsupported: string } } | CsrProblem {
  const spkiDer = bytes.slice(spki.start, spki.end);
  let requestKey: RequestKey;
  try {
    requestKey = requestKeyOf(bytes, spki, spkiDer);
  } catch (e) {
    return keyUnusable(bytes, spki, e);
  }
  const problem = verifyRequestSignature(bytes, signed, algorithm, signature, requestKey);
  if (problem) return problem;
  return { spkiDer, keyType: keyTypeOfSpki(bytes, spki, 'key' in requestKey ? requestKey.key : undefined) };
}

/** A Name TLV as text (RFC 4514 order, as CSR subjects are shown) and its common name. */
export const nameText = (bytes: Uint8Array, name: Tlv) => readName(bytes, name);
