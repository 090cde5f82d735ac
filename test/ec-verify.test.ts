import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, verify, createPublicKey, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { AsnConvert } from '@peculiar/asn1-schema';
import { ECDSASigValue } from '@peculiar/asn1-ecc';
import { ecdsaVerifiers } from '../src/x509/ec-verify.js';
import { parseAndVerifyCsr, isCsrProblem } from '../src/x509/csr-parse.js';
import { derBitString, derSequence as sequence, tlv } from '../src/x509/der.js';
import { encodeName } from '../src/x509/tbs-splice.js';

// The native ECDSA verifier (native/ec-verify.c) must agree with node:crypto on every input:
// valid signatures, tampered ones, non-DER encodings, points off the curve.
const CURVES = [
  { name: 'P-256', bits: 256, order: BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551') },
  { name: 'P-384', bits: 384, order: BigInt('0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973') },
  { name: 'P-521', bits: 521, order: BigInt('0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409') },
] as const;
const HASHES = ['sha256', 'sha384', 'sha512'] as const;

/**
 * The uncompressed point is the tail of the SPKI; the compressed form is x with y's parity. (Taken from
 * the DER once per key: exporting JWK in a loop next to generateKeyPairSync deadlocked Node 20 here,
 * a GC inside ExportJWKEcKey destroying a key-generation job that waits on the same mutex.)
 */
const points = new WeakMap<KeyObject, { uncompressed: Uint8Array; compressed: Uint8Array }>();
function pointOf(key: KeyObject, compressed = false): Uint8Array {
  let known = points.get(key);
  if (!known) {
    const size = ({ prime256v1: 32, secp384r1: 48, secp521r1: 66 } as Record<string, number>)[key.asymmetricKeyDetails!.namedCurve!]!;
    const spki = key.export({ format: 'der', type: 'spki' });
    const uncompressed = new Uint8Array(spki.subarray(spki.length - (1 + 2 * size)));
    assert.equal(uncompressed[0], 4);
    const y = uncompressed.subarray(1 + size);
    points.set(key, (known = { uncompressed, compressed: Uint8Array.of(2 + (y[y.length - 1]! & 1), ...uncompressed.subarray(1, 1 + size)) }));
  }
  return compressed ? known.compressed : known.uncompressed;
}

const keys = CURVES.map((curve) => ({ curve, pairs: Array.from({ length: 4 }, () => generateKeyPairSync('ec', { namedCurve: curve.name })) }));

function derInteger(n: bigint): Buffer {
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let bytes = Buffer.from(hex, 'hex');
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes]);
}
function derSequence(...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const length = body.length < 0x80 ? Buffer.from([body.length]) : Buffer.from([0x81, body.length]);
  return Buffer.concat([Buffer.from([0x30]), length, body]);
}

for (const [implementation, verifyEcdsa] of Object.entries(ecdsaVerifiers)) {
  describe(`ECDSA verification (${implementation})`, () => {
    test('agrees with node:crypto on valid and tampered signatures, every curve and hash', () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 3 }), fc.constantFrom(...HASHES), fc.uint8Array({ maxLength: 300 }), fc.nat(), fc.boolean(), (c, k, hash, message, flip, compressed) => {
          const { curve, pairs } = keys[c]!;
          const { privateKey, publicKey } = pairs[k]!;
          const signature = sign(hash, message, privateKey);
          assert.equal(verifyEcdsa(curve.bits, pointOf(publicKey, compressed), hash, message, signature), true);
          const tampered = Buffer.from(signature);
          tampered[flip % tampered.length]! ^= 1 << flip % 8;
          let expected = false;
          try {
            expected = verify(hash, message, publicKey, tampered);
          } catch {
            expected = false;
          }
          assert.equal(verifyEcdsa(curve.bits, pointOf(publicKey, compressed), hash, message, tampered), expected);
          const otherKey = pairs[(k + 1) % pairs.length]!.publicKey;
          assert.equal(verifyEcdsa(curve.bits, pointOf(otherKey), hash, message, signature), false);
          if (message.length) assert.equal(verifyEcdsa(curve.bits, pointOf(publicKey), hash, message.subarray(1), signature), false);
        }),
        { numRuns: 300 },
      );
    });

    test('refuses signatures that are not DER exactly, and r or s out of range', () => {
      const { curve, pairs } = keys[0]!;
      const { privateKey, publicKey } = pairs[0]!;
      const point = pointOf(publicKey);
      const message = Buffer.from('proof of possession');
      const signature = sign('sha256', message, privateKey);
      const { r, s } = AsnConvert.parse(signature, ECDSASigValue);
      const R = BigInt(`0x${Buffer.from(r).toString('hex')}`);
      const S = BigInt(`0x${Buffer.from(s).toString('hex')}`);
      assert.equal(verifyEcdsa(256, point, 'sha256', message, derSequence(derInteger(R), derInteger(S))), true, 're-encoded DER still verifies');
      const padded = Buffer.concat([Buffer.from([0x02, derInteger(R).length - 1]), Buffer.from([0]), derInteger(R).subarray(2)]);
      padded[1] = padded.length - 2;
      const nonMinimal = derSequence(padded, derInteger(S));
      const longLength = Buffer.concat([Buffer.from([0x30, 0x81, signature[1]!]), signature.subarray(2)]);
      const trailing = Buffer.concat([signature, Buffer.from([0])]);
      const negatedS = derSequence(derInteger(R), derInteger(curve.order - S)); // still a valid ECDSA signature (malleable), and DER: accepted like node does
      for (const [name, bad] of [['non-minimal INTEGER', nonMinimal], ['long-form length', longLength], ['trailing byte', trailing], ['empty', Buffer.alloc(0)]] as const) {
        assert.equal(verifyEcdsa(256, point, 'sha256', message, bad), false, name);
      }
      assert.equal(verifyEcdsa(256, point, 'sha256', message, negatedS), verify('sha256', message, publicKey, negatedS));
      for (const [name, rr, ss] of [['r = 0', 0n, S], ['s = 0', R, 0n], ['r = n', curve.order, S], ['s = n + s', R, curve.order + S]] as const) {
        assert.equal(verifyEcdsa(256, point, 'sha256', message, derSequence(derInteger(rr), derInteger(ss))), false, name);
      }
    });

    test('refuses points off the curve, the point at infinity and malformed encodings', () => {
      const { pairs } = keys[0]!;
      const { privateKey, publicKey } = pairs[0]!;
      const message = Buffer.from('hello');
      const signature = sign('sha256', message, privateKey);
      const point = Buffer.from(pointOf(publicKey));
      const offCurve = Buffer.from(point);
      offCurve[64]! ^= 1;
      assert.throws(() => createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: offCurve.subarray(1, 33).toString('base64url'), y: offCurve.subarray(33).toString('base64url') }, format: 'jwk' }));
      for (const [name, bad] of [
        ['off the curve', offCurve],
        ['infinity', Buffer.from([0])],
        ['empty', Buffer.alloc(0)],
        ['truncated', point.subarray(0, 64)],
        ['hybrid form', Buffer.concat([Buffer.from([6]), point.subarray(1)])],
        ['P-384 size on P-256', Buffer.concat([point, Buffer.alloc(32)])],
      ] as const) {
        assert.equal(verifyEcdsa(256, bad, 'sha256', message, signature), false, name);
      }
      assert.equal(verifyEcdsa(384, point, 'sha256', message, signature), false, 'a P-256 point is not a P-384 point');
    });

    test('misuse is an error, not a verdict', () => {
      assert.throws(() => verifyEcdsa(255, new Uint8Array(65), 'sha256', new Uint8Array(1), new Uint8Array(8)), /unsupported curve/);
      assert.throws(() => verifyEcdsa(256, new Uint8Array(65), 'sha1', new Uint8Array(1), new Uint8Array(8)), /sha1/);
    });

    test('a CSR whose EC key is not on its curve is refused for its key, one signed properly is accepted', () => {
      const { privateKey, publicKey } = keys[0]!.pairs[0]!;
      const csr = (spki: Uint8Array) => {
        const info = sequence(Uint8Array.of(0x02, 0x01, 0x00), encodeName([['CN', 'dev-1']]), spki, tlv(0xa0, new Uint8Array()));
        return sequence(info, Uint8Array.of(0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02), derBitString(new Uint8Array(sign('sha256', info, privateKey))));
      };
      const spki = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
      const good = parseAndVerifyCsr(csr(spki));
      assert.ok(!isCsrProblem(good), JSON.stringify(good));
      assert.equal(good.keyType, 'ec-p256');
      const offCurve = spki.slice();
      offCurve[offCurve.length - 1]! ^= 1;
      const bad = parseAndVerifyCsr(csr(offCurve));
      assert.ok(isCsrProblem(bad));
      assert.equal(bad.code, 'csr_signature');
      assert.match(bad.message, /public key \(ec-p256\) cannot be used/);
    });
  });
}
