import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, CRLReason, Extension, Extensions, GeneralName, Name } from '@peculiar/asn1-x509';
import { CertID, CertStatus, KeyHash, OCSPRequest, Request, ResponderID, ResponseData, RevokedInfo, Signature, SingleResponse, TBSRequest } from '@peculiar/asn1-ocsp';
import { derLength, derSequence, tlv, tlvSize } from '../src/x509/der.js';
import { createSlabAllocator } from '../src/base/byte-arena.js';
import { encodeResponseData, wrapOcspResponse, MalformedOcspRequest, parseOcspRequest, plainSha1Request, responseDataTimes, sha1CertId, type CertificateStatus } from '../src/x509/ocsp.js';

/**
 * OCSP DER is walked and written by hand (the live path's cost was in schema objects). These pin it to
 * the schema encoder and parser of @peculiar/asn1-ocsp, byte for byte, and to requests openssl writes.
 */

const certId = (serial: Uint8Array, algorithm = '1.3.14.3.2.26', withNull = true) =>
  new CertID({
    hashAlgorithm: new AlgorithmIdentifier({ algorithm, parameters: withNull ? Uint8Array.of(5, 0).buffer : undefined }),
    issuerNameHash: new OctetString(randomBytes(20)),
    issuerKeyHash: new OctetString(randomBytes(20)),
    serialNumber: serial.buffer as ArrayBuffer,
  });
const der = (value: object) => new Uint8Array(AsnConvert.serialize(value));

describe('OCSP DER by hand', () => {
  test('ResponseData: the same bytes as the schema encoder, for good, unknown, revoked with and without reason, with and without a nonce', () => {
    const keyHash = randomBytes(20);
    const producedAt = new Date('2026-12-05T10:11:12Z');
    const thisUpdate = new Date('2026-12-05T10:11:12Z');
    const nextUpdate = new Date('2051-01-02T03:04:05Z'); // GeneralizedTime after 2049 as before
    const statuses: CertificateStatus[] = [
      { status: 'good' },
      { status: 'unknown' },
      { status: 'revoked', revokedAt: new Date('2026-11-30T01:02:03Z') },
      { status: 'revoked', revokedAt: new Date('2026-11-30T01:02:03Z'), reasonCode: 1 },
    ];
    for (const nonce of [undefined, der(new OctetString(randomBytes(32)))]) {
      const ids = statuses.map((_, i) => certId(Uint8Array.of(0x80 + i, 1, 2)));
      const expected = der(
        new ResponseData({
          responderID: new ResponderID({ byKey: new KeyHash(keyHash) }),
          producedAt,
          responses: statuses.map(
            (s, i) =>
              new SingleResponse({
                certID: ids[i]!,
                certStatus:
                  s.status === 'good'
                    ? new CertStatus({ good: null })
                    : s.status === 'unknown'
                      ? new CertStatus({ unknown: null })
                      : new CertStatus({ revoked: new RevokedInfo({ revocationTime: s.revokedAt, revocationReason: s.reasonCode === undefined ? undefined : new CRLReason(s.reasonCode) }) }),
                thisUpdate,
                nextUpdate,
              }),
          ),
          responseExtensions: nonce ? [new Extension({ extnID: '1.3.6.1.5.5.7.48.1.2', critical: false, extnValue: new OctetString(nonce) })] : undefined,
        }),
      );
      const ours = encodeResponseData({ responderKeyHash: keyHash, producedAt, thisUpdate, nextUpdate, answers: statuses.map((status, i) => ({ certId: der(ids[i]!), status })), nonce });
      assert.equal(Buffer.from(ours).toString('hex'), Buffer.from(expected).toString('hex'));
      assert.deepEqual(responseDataTimes(ours), { producedAt, responses: statuses.map(() => ({ thisUpdate, nextUpdate })) });
    }
  });

  test('the pre-signed CertID is the one openssl sends (SHA-1 with NULL parameters)', () => {
    const nameHash = randomBytes(20);
    const keyHash = randomBytes(20);
    const expected = new CertID({ hashAlgorithm: new AlgorithmIdentifier({ algorithm: '1.3.14.3.2.26', parameters: Uint8Array.of(5, 0).buffer }), issuerNameHash: new OctetString(nameHash), issuerKeyHash: new OctetString(keyHash), serialNumber: Uint8Array.of(0, 0x9a, 1).buffer });
    assert.deepEqual(sha1CertId(nameHash, keyHash, '9a01'), der(expected));
    assert.deepEqual(sha1CertId(nameHash, keyHash, '1'), der(new CertID({ ...expected, serialNumber: Uint8Array.of(1).buffer })));
  });

  test('requests: what the schema parser reads, we read, with every optional field', () => {
    const ids = [certId(Uint8Array.of(0, 0xff, 7)), certId(Uint8Array.of(1), '2.16.840.1.101.3.4.2.1', false)];
    const nonce = randomBytes(16);
    const variants = [
      new TBSRequest({ requestList: ids.map((id) => new Request({ reqCert: id })) }),
      new TBSRequest({ version: 0, requestorName: new GeneralName({ directoryName: new Name([]) }), requestList: [new Request({ reqCert: ids[0]! })] }),
      new TBSRequest({ requestList: [new Request({ reqCert: ids[1]! })], requestExtensions: new Extensions([new Extension({ extnID: '1.3.6.1.5.5.7.48.1.4', critical: false, extnValue: new OctetString(3) }), new Extension({ extnID: '1.3.6.1.5.5.7.48.1.2', critical: false, extnValue: new OctetString(der(new OctetString(nonce))) })]) }),
      new TBSRequest({ requestList: [new Request({ reqCert: ids[0]! })], requestExtensions: new Extensions([new Extension({ extnID: '1.3.6.1.5.5.7.48.1.2', critical: true, extnValue: new OctetString(nonce) })]) }),
    ];
    for (const tbsRequest of variants) {
      for (const optionalSignature of [undefined, new Signature({ signatureAlgorithm: new AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.2' }), signature: new ArrayBuffer(8) })]) {
        const bytes = der(new OCSPRequest({ tbsRequest, optionalSignature }));
        const ours = parseOcspRequest(bytes);
        const theirs = AsnConvert.parse(bytes, OCSPRequest).tbsRequest;
        assert.deepEqual(
          ours.certIds.map((c) => Buffer.from(c.certId).toString('hex')),
          theirs.requestList.map((r) => Buffer.from(der(r.reqCert)).toString('hex')),
        );
        assert.deepEqual(ours.certIds.map((c) => c.serial), theirs.requestList.map((r) => Buffer.from(r.reqCert.serialNumber).toString('hex').replace(/^(00)+(?=.)/, '')));
        assert.deepEqual(ours.certIds.map((c) => c.hash), theirs.requestList.map((r) => (r.reqCert.hashAlgorithm.algorithm === '1.3.14.3.2.26' ? 'sha1' : 'sha256')));
        const theirNonce = theirs.requestExtensions?.find((e) => e.extnID === '1.3.6.1.5.5.7.48.1.2');
        assert.deepEqual(ours.nonce && Buffer.from(ours.nonce), theirNonce && Buffer.from(theirNonce.extnValue.buffer));
      }
    }
    // singleRequestExtensions is [0] EXPLICIT (RFC 6960 §4.1.1); the schema library writes it untagged, so by hand.
    const extensions = tlv(0xa0, der(new Extensions([new Extension({ extnID: '1.2.3', critical: false, extnValue: new OctetString(2) })])));
    const request = derSequence(der(ids[0]!), extensions);
    const bytes = derSequence(derSequence(derSequence(request)));
    assert.deepEqual(parseOcspRequest(bytes).certIds.map((c) => c.certId), [der(ids[0]!)]);
  });

  test('RFC 5019 requests read by their layout: the same issuer hashes and serial as the parser, and nothing else read that way', () => {
    const serials = [Uint8Array.of(0), Uint8Array.of(1), Uint8Array.of(0x7f), Uint8Array.of(0, 0x80), Uint8Array.of(0, 0xff, 7), Uint8Array.of(0x12, 0x34)];
    for (let i = 0; i < 200; i++) {
      const bytes = randomBytes(1 + (i % 20));
      bytes[0]! &= 0x7f;
      serials.push(bytes);
    }
    let read = 0;
    for (const serial of serials) {
      for (const withNull of [true, false]) {
        const id = certId(serial, '1.3.14.3.2.26', withNull);
        const bytes = der(new OCSPRequest({ tbsRequest: new TBSRequest({ requestList: [new Request({ reqCert: id })] }) }));
        const plain = plainSha1Request(bytes);
        const parsed = parseOcspRequest(bytes).certIds[0]!;
        const minimal = !(serial[0] === 0 && serial.length > 1 && serial[1]! < 0x80);
        if (!minimal) {
          assert.equal(plain, undefined, 'a non-minimal INTEGER goes to the parser');
          continue;
        }
        assert.ok(plain, Buffer.from(bytes).toString('hex'));
        read++;
        assert.equal(plain.serial, parsed.serial);
        assert.equal(Buffer.from(plain.issuerNameHash).toString('hex'), parsed.issuerNameHash);
        assert.equal(Buffer.from(plain.issuerKeyHash).toString('hex'), parsed.issuerKeyHash);
      }
    }
    assert.ok(read > 400);
    // Every other shape is left to the parser: another hash, a nonce, a version, a signature, two certificates,
    // a negative serial, a byte more or less.
    const id = certId(Uint8Array.of(0x42));
    const signature = new Signature({ signatureAlgorithm: new AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.2' }), signature: new ArrayBuffer(8) });
    const plain = der(new OCSPRequest({ tbsRequest: new TBSRequest({ requestList: [new Request({ reqCert: id })] }) }));
    const others: Uint8Array[] = [
      der(new OCSPRequest({ tbsRequest: new TBSRequest({ requestList: [new Request({ reqCert: certId(Uint8Array.of(0x42), '2.16.840.1.101.3.4.2.1') })] }) })),
      der(new OCSPRequest({ tbsRequest: new TBSRequest({ requestList: [new Request({ reqCert: id })], requestExtensions: new Extensions([new Extension({ extnID: '1.3.6.1.5.5.7.48.1.2', extnValue: new OctetString(der(new OctetString(8))) })]) }) })),
      // version v1 written out (DER leaves the default out; a lenient writer may not): by hand.
      derSequence(derSequence(tlv(0xa0, Uint8Array.of(2, 1, 0)), derSequence(derSequence(der(id))))),
      der(new OCSPRequest({ tbsRequest: new TBSRequest({ requestList: [new Request({ reqCert: id })] }), optionalSignature: signature })),
      der(new OCSPRequest({ tbsRequest: new TBSRequest({ requestList: [new Request({ reqCert: id }), new Request({ reqCert: id })] }) })),
      der(new OCSPRequest({ tbsRequest: new TBSRequest({ requestList: [new Request({ reqCert: certId(Uint8Array.of(0x80)) })] }) })),
      Buffer.concat([plain, Uint8Array.of(0)]),
      plain.subarray(0, plain.length - 1),
    ];
    assert.ok(plainSha1Request(plain));
    for (const bytes of others) assert.equal(plainSha1Request(bytes), undefined, Buffer.from(bytes).toString('hex'));
  });

  test('definite lengths (X.690 §8.1.3.5) at every boundary, as derLength and tlvSize say them', () => {
    const cases: [number, string][] = [[0, '00'], [127, '7f'], [128, '8180'], [255, '81ff'], [256, '820100'], [65_535, '82ffff'], [65_536, '83010000'], [16_777_215, '83ffffff'], [16_777_216, '8401000000']];
    for (const [n, hex] of cases) {
      assert.equal(Buffer.from(derLength(n)).toString('hex'), hex, String(n));
      assert.equal(tlvSize(n), n + 1 + hex.length / 2, String(n));
    }
  });

  test('the OCSPResponse written in one buffer is the nested DER, at every length boundary', () => {
    const oid = Uint8Array.of(0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01);
    const nested = (signed: Uint8Array, cert: Uint8Array) => derSequence(Uint8Array.of(0x0a, 0x01, 0x00), tlv(0xa0, derSequence(oid, tlv(0x04, derSequence(signed, tlv(0xa0, derSequence(cert)))))));
    for (const [a, b] of [[1, 1], [10, 20], [60, 60], [120, 5], [100, 20], [200, 500], [250, 3], [300, 70_000], [70_000, 300]] as const) {
      const signed = randomBytes(a);
      const cert = randomBytes(b);
      assert.deepEqual(Buffer.from(wrapOcspResponse(signed, cert)), Buffer.from(nested(signed, cert)), `${a}/${b}`);
    }
  });

  test('the same written into slabs shared by answers, each answer its own bytes', () => {
    const allocate = createSlabAllocator(8192);
    const cert = randomBytes(600);
    const signed = [100, 250, 3000, 2000, 9000].map((n) => randomBytes(n));
    const answers = signed.map((bytes) => wrapOcspResponse(bytes, cert, allocate));
    signed.forEach((bytes, i) => assert.deepEqual(Buffer.from(answers[i]!), Buffer.from(wrapOcspResponse(bytes, cert)), `answer ${i}`));
  });

  test('requests openssl writes, with and without a nonce', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocsp-der-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(dir, 'k'), '-subj', '/CN=issuer', '-out', path.join(dir, 'ca.pem')], { stdio: 'ignore' });
      for (const extra of [[], ['-no_nonce']]) {
        execFileSync('openssl', ['ocsp', '-issuer', path.join(dir, 'ca.pem'), '-serial', '0x1F2E3D', '-serial', '0x80', '-reqout', path.join(dir, 'req.der'), ...extra], { stdio: 'ignore' });
        const parsed = parseOcspRequest(fs.readFileSync(path.join(dir, 'req.der')));
        assert.deepEqual(parsed.certIds.map((c) => [c.hash, c.serial]), [['sha1', '1f2e3d'], ['sha1', '80']]);
        assert.equal(parsed.nonce !== undefined, extra.length === 0);
      }
      execFileSync('openssl', ['ocsp', '-issuer', path.join(dir, 'ca.pem'), '-serial', '0x80', '-no_nonce', '-reqout', path.join(dir, 'req.der')], { stdio: 'ignore' });
      assert.equal(plainSha1Request(fs.readFileSync(path.join(dir, 'req.der')))?.serial, '80', 'openssl\'s plain request is read by its layout');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('malformed: trailing bytes, empty list, wrong tags, too many certificates, nonce too long', () => {
    const id = certId(Uint8Array.of(5));
    const good = der(new OCSPRequest({ tbsRequest: new TBSRequest({ requestList: [new Request({ reqCert: id })] }) }));
    const cases: Uint8Array[] = [
      Buffer.concat([good, Uint8Array.of(0)]),
      der(new OCSPRequest({ tbsRequest: new TBSRequest({ requestList: [] }) })),
      Uint8Array.of(0x31, ...good.subarray(1)),
      der(new OCSPRequest({ tbsRequest: new TBSRequest({ requestList: Array.from({ length: 65 }, () => new Request({ reqCert: id })) }) })),
      der(new OCSPRequest({ tbsRequest: new TBSRequest({ requestList: [new Request({ reqCert: id })], requestExtensions: new Extensions([new Extension({ extnID: '1.3.6.1.5.5.7.48.1.2', extnValue: new OctetString(der(new OctetString(33))) })]) }) })),
      new Uint8Array(0),
    ];
    for (const bytes of cases) assert.throws(() => parseOcspRequest(bytes), MalformedOcspRequest, Buffer.from(bytes).toString('hex').slice(0, 40));
  });
});
