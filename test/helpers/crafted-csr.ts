import { createHash, generateKeyPairSync, generatePrimeSync, checkPrimeSync, sign, type KeyObject } from 'node:crypto';
import { concatBytes, derBitString, derSequence, derUnsignedInteger, tlv } from '../../src/x509/der.js';
import { toPem } from '../../src/x509/pem.js';

/**
 * PKCS#10 requests built byte by byte, for what no ordinary tool will make: badly encoded names,
 * repeated extensions, RSA keys with a tiny exponent or close primes. Each is properly signed, so
 * that it is the content a CA must refuse, not the signature.
 */

export function oid(text: string): Uint8Array {
  const [a, b, ...rest] = text.split('.').map(Number);
  const bytes = [a! * 40 + b!];
  for (const n of rest) {
    const groups = [n & 0x7f];
    for (let v = n >>> 7; v; v >>>= 7) groups.unshift((v & 0x7f) | 0x80);
    bytes.push(...groups);
  }
  return tlv(0x06, Uint8Array.from(bytes));
}

const CN = '2.5.4.3';
const utf8 = (s: string) => new TextEncoder().encode(s);

/** A Name of one attribute per RDN: [oid, string tag, raw content bytes]. */
export function nameDer(attributes: [string, number, Uint8Array][]): Uint8Array {
  return derSequence(...attributes.map(([type, tag, value]) => tlv(0x31, derSequence(oid(type), tlv(tag, value)))));
}
export const cnName = (cn: string) => nameDer([[CN, 0x0c, utf8(cn)]]);

/** Extension ::= SEQUENCE { extnID, extnValue OCTET STRING } (not critical). */
export const extension = (id: string, value: Uint8Array) => derSequence(oid(id), tlv(0x04, value));
/** Attribute ::= SEQUENCE { type, values SET OF ANY } with one value (PKCS#10 attributes, RFC 2986). */
export const csrAttribute = (id: string, value: Uint8Array) => derSequence(oid(id), tlv(0x31, value));
/** subjectAltName with dNSName entries. */
export const sanDns = (names: string[]) => extension('2.5.29.17', derSequence(...names.map((n) => tlv(0x82, utf8(n)))));

const ecdsaWithSha256 = derSequence(oid('1.2.840.10045.4.3.2'));
const sha256WithRsa = derSequence(oid('1.2.840.113549.1.1.11'), Uint8Array.of(0x05, 0x00));

function infoDer(subject: Uint8Array, spki: Uint8Array, extensions: Uint8Array[], challengePassword?: string, more: Uint8Array[] = []): Uint8Array {
  const attributes = [
    ...more,
    ...(challengePassword !== undefined ? [derSequence(oid('1.2.840.113549.1.9.7'), tlv(0x31, tlv(0x0c, utf8(challengePassword))))] : []),
    ...(extensions.length ? [derSequence(oid('1.2.840.113549.1.9.14'), tlv(0x31, derSequence(...extensions)))] : []),
  ];
  return derSequence(tlv(0x02, Uint8Array.of(0)), subject, spki, tlv(0xa0, concatBytes(attributes)));
}

/** A request on a fresh P-256 key (or the one given), signed with it. */
export function craftEcCsr(options: { subject?: Uint8Array; extensions?: Uint8Array[]; key?: { privateKey: KeyObject; publicKey: KeyObject }; challengePassword?: string; attributes?: Uint8Array[] } = {}): string {
  const key = options.key ?? generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = new Uint8Array(key.publicKey.export({ format: 'der', type: 'spki' }));
  const info = infoDer(options.subject ?? cnName('device'), spki, options.extensions ?? [], options.challengePassword, options.attributes);
  const signature = new Uint8Array(sign('sha256', info, key.privateKey));
  return toPem(derSequence(info, ecdsaWithSha256, derBitString(signature)), 'CERTIFICATE REQUEST');
}

const toBytes = (n: bigint) => {
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  return Uint8Array.from(Buffer.from(hex, 'hex'));
};
function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  base %= modulus;
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * base) % modulus;
    base = (base * base) % modulus;
  }
  return result;
}
function modInverse(a: bigint, m: bigint): bigint {
  let [r0, r1, s0, s1] = [a % m, m, 1n, 0n];
  while (r1) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return ((s0 % m) + m) % m;
}

const gcd = (a: bigint, b: bigint): bigint => (b ? gcd(b, a % b) : a);

/**
 * Two primes whose product has exactly 2048 bits (that of two 1024-bit primes may have 2047) and for
 * which every exponent given has an inverse modulo φ(n) (e = 3 has none when 3 divides p − 1 or q − 1);
 * `close`: q is the next prime after p.
 */
export function rsaPrimes(exponents: bigint[], close = false): [bigint, bigint] {
  for (;;) {
    const p = generatePrimeSync(1024, { bigint: true });
    let q = generatePrimeSync(1024, { bigint: true });
    if (close) for (q = p + 2n; !checkPrimeSync(q); q += 2n);
    const phi = (p - 1n) * (q - 1n);
    if ((p * q).toString(2).length === 2048 && exponents.every((e) => gcd(e, phi) === 1n)) return [p, q];
  }
}

/**
 * An RSA request signed by hand (PKCS#1 v1.5, SHA-256) with the key n = p·q and exponent e. `close`
 * makes q the next prime after p (Fermat factors such an n at once); e = 1 signs with d = 1.
 */
export function craftRsaCsr(options: { e: bigint; close?: boolean; cn?: string; primes?: [bigint, bigint] }): string {
  const [p, q] = options.primes ?? rsaPrimes([options.e], options.close);
  const n = p * q;
  const phi = (p - 1n) * (q - 1n);
  const d = options.e === 1n ? 1n : modInverse(options.e, phi);
  const rsaPublicKey = derSequence(derUnsignedInteger(toBytes(n)), derUnsignedInteger(toBytes(options.e)));
  const spki = derSequence(derSequence(oid('1.2.840.113549.1.1.1'), Uint8Array.of(0x05, 0x00)), derBitString(rsaPublicKey));
  const info = infoDer(cnName(options.cn ?? 'device'), spki, []);
  const k = toBytes(n).length;
  const digestInfo = concatBytes([Uint8Array.from(Buffer.from('3031300d060960864801650304020105000420', 'hex')), createHash('sha256').update(info).digest()]);
  const em = concatBytes([Uint8Array.of(0, 1), new Uint8Array(k - digestInfo.length - 3).fill(0xff), Uint8Array.of(0), digestInfo]);
  const s = modPow(BigInt(`0x${Buffer.from(em).toString('hex')}`), d, n);
  const signature = toBytes(s);
  const padded = concatBytes([new Uint8Array(k - signature.length), signature]);
  return toPem(derSequence(info, sha256WithRsa, derBitString(padded)), 'CERTIFICATE REQUEST');
}
