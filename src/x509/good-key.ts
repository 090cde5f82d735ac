import { AsnConvert } from '@peculiar/asn1-schema';
import { RSAPublicKey } from '@peculiar/asn1-rsa';
import { SubjectPublicKeyInfo } from '@peculiar/asn1-x509';

const ID_RSA = '1.2.840.113549.1.1.1';
/** Primes below 752, as Boulder's goodkey checks (a modulus divisible by one is broken by trial division). */
const SMALL_PRIMES = (() => {
  const primes: bigint[] = [];
  for (let n = 2; n < 752; n++) if (primes.every((p) => BigInt(n) % p !== 0n)) primes.push(BigInt(n));
  return primes;
})();
const FERMAT_ROUNDS = 100;

const toBigInt = (bytes: ArrayBuffer) => (bytes.byteLength ? BigInt(`0x${Buffer.from(bytes).toString('hex')}`) : 0n);

function sqrtFloor(n: bigint): bigint {
  if (n < 2n) return n;
  let x = 1n << BigInt(Math.ceil(n.toString(2).length / 2));
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/** Squares leave few residues modulo 64, 63 and 65: most non-squares are told without a root. */
const residues = (m: number) => new Set(Array.from({ length: m }, (_, i) => (i * i) % m));
const SQUARES_64 = residues(64);
const SQUARES_63 = residues(63);
const SQUARES_65 = residues(65);
function isSquare(n: bigint): boolean {
  if (n < 0n) return false;
  if (!SQUARES_64.has(Number(n & 63n)) || !SQUARES_63.has(Number(n % 63n)) || !SQUARES_65.has(Number(n % 65n))) return false;
  const r = sqrtFloor(n);
  return r * r === n;
}

/**
 * Fermat's method: n = a² − b² = (a − b)(a + b) is found at once when the two primes are close
 * (CVE-2022-26320 keys). Boulder tries 100 steps from ⌈√n⌉; so does this.
 */
function closePrimes(n: bigint): boolean {
  let a = sqrtFloor(n);
  if (a * a < n) a++;
  let b2 = a * a - n;
  for (let i = 0; i < FERMAT_ROUNDS; i++) {
    if (isSquare(b2)) return true;
    b2 += 2n * a + 1n;
    a++;
  }
  return false;
}

/**
 * Why a public key must not be certified, or undefined. RSA: the exponent odd and within
 * [65537, 2^256), the modulus odd, no prime factor below 752, primes not close enough for Fermat's
 * method (the checks of Boulder's goodkey). EC points are validated when the CSR's signature is
 * checked (a point off the curve never verifies); sizes come from the profile's key types.
 */
export function keyWeakness(spkiDer: Uint8Array): string | undefined {
  const spki = AsnConvert.parse(spkiDer, SubjectPublicKeyInfo);
  if (spki.algorithm.algorithm !== ID_RSA) return undefined;
  let key: RSAPublicKey;
  try {
    key = AsnConvert.parse(spki.subjectPublicKey, RSAPublicKey);
  } catch {
    return 'the RSA public key is not a valid RSAPublicKey';
  }
  const e = toBigInt(key.publicExponent);
  const n = toBigInt(key.modulus);
  if (e % 2n === 0n) return `the RSA public exponent ${e} is even`;
  if (e < 65537n || e >= 1n << 256n) return `the RSA public exponent ${e < 1n << 64n ? e : 'given'} is outside [65537, 2^256)`;
  if (n % 2n === 0n) return 'the RSA modulus is even';
  const factor = SMALL_PRIMES.find((p) => n % p === 0n);
  if (factor !== undefined) return `the RSA modulus is divisible by the small prime ${factor}`;
  if (closePrimes(n)) return 'the RSA modulus has prime factors close enough to be found by Fermat factorization';
  return undefined;
}
