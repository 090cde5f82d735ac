import { asTx } from '../src/store/handle.js';
import { sql } from '../src/store/handle.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { AsnConvert } from '@peculiar/asn1-schema';
import { ECDSASigValue } from '@peculiar/asn1-ecc';
import { SubjectPublicKeyInfo, Time } from '@peculiar/asn1-x509';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { BACKENDS } from './helpers/backends.js';
import { startTestCa, type TestCa } from './helpers/ca.js';
import { opensslCsr, breakSignature } from './helpers/csr.js';
import { craftEcCsr, cnName } from './helpers/crafted-csr.js';
import { mustRun } from './helpers/run.js';
import { issueBatch } from '../src/ca/issue.js';
import { together } from '../src/store/together.js';
import { isUniqueViolation } from '../src/store/unique-violation.js';
import { buildLeafTbs, leafTemplate } from '../src/ca/leaf-template.js';
import { certsOnlyReference, leafExtensions } from './helpers/reference-encoders.js';
import { encodeTbsCertificate } from '../src/x509/certificate-builder.js';
import { keyIdentifier, keyIdOfSpki } from '../src/x509/extensions.js';
import { buildName } from '../src/x509/names.js';
import { encodeName } from '../src/x509/tbs-splice.js';
import { derTime } from '../src/x509/der.js';
import { algorithmIdentifier } from '../src/x509/signature-algorithms.js';
import { randomSerial } from '../src/x509/serial.js';
import { parseAndVerifyCsr, isCsrProblem } from '../src/x509/csr-parse.js';
import { verifyCsr, decodeCsr } from '../src/x509/csr.js';
import { x509 } from '../src/x509/crypto-provider.js';
import { ecdsaRawToDer } from '../src/keys/ecdsa-signature.js';
import { parseKeyUri } from '../src/keys/key-uri.js';
import { certsOnly } from '../src/x509/pkcs7.js';
import { lintCertificate, tbsOf } from '../src/lint/index.js';
import type { Draft } from '../src/profiles/rules/index.js';
import { sequenced } from './helpers/sequenced.js';

let home: TestHome;
before(async () => {
  home = await makeTestHome(['fast-sqlite', 'fast-postgres']);
});
after(() => home?.cleanup());

const value = fc.string({ minLength: 1, maxLength: 40, unit: fc.constantFrom(...'abcXYZ019 -._:/é中\u00ff'.split('')) });
const printable = fc.string({ minLength: 1, maxLength: 20, unit: fc.constantFrom(...'abcXYZ019 -.:'.split('')) });
const attributes = fc.array(fc.oneof(fc.tuple(fc.constantFrom('CN', 'O', 'OU', 'L', 'ST' as const), value), fc.tuple(fc.constantFrom('C', 'serialNumber' as const), printable)), { minLength: 0, maxLength: 4 });

test('encodeName gives the bytes @peculiar/asn1-x509 gives for the same attributes', () => {
  fc.assert(
    fc.property(attributes, (attrs) => {
      const typed = attrs as Draft['subject'];
      assert.deepEqual(Buffer.from(encodeName(typed)), Buffer.from(AsnConvert.serialize(buildName(typed))));
    }),
    { numRuns: 300 },
  );
  assert.throws(() => encodeName([['C', 'é']]), /not a PrintableString/);
});

test('derTime gives the bytes @peculiar/asn1-x509 gives: UTCTime through 2049, GeneralizedTime from 2050', () => {
  const edges = ['1950-01-01T00:00:00Z', '1999-12-31T23:59:59Z', '2049-12-31T23:59:59Z', '2050-01-01T00:00:00Z', '2100-06-15T12:34:56Z', '9999-12-31T23:59:59Z'].map((t) => new Date(t));
  const random = fc.sample(fc.date({ min: new Date('1950-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }), 300);
  for (const date of [...edges, ...random]) {
    const whole = new Date(Math.floor(date.getTime() / 1000) * 1000); // certificates carry whole seconds
    assert.deepEqual(Buffer.from(derTime(whole)), Buffer.from(AsnConvert.serialize(new Time(whole))), whole.toISOString());
  }
});

test('ECDSA r‖s → DER matches ECDSASigValue for every leading-zero and high-bit case', () => {
  fc.assert(
    fc.property(fc.constantFrom(32, 48, 66), fc.uint8Array({ minLength: 132, maxLength: 132 }), fc.nat(70), fc.nat(70), fc.boolean(), (size, bytes, zr, zs, high) => {
      const raw = bytes.slice(0, 2 * size);
      raw.fill(0, 0, Math.min(zr, size - 1));
      raw.fill(0, size, size + Math.min(zs, size - 1));
      if (high) raw[0] = 0x80 | raw[0]!;
      const trim = (b: Uint8Array) => {
        let i = 0;
        while (i < b.length - 1 && b[i] === 0) i++;
        const t = b.subarray(i);
        return new Uint8Array(t[0]! & 0x80 ? [0, ...t] : t).buffer;
      };
      const expected = AsnConvert.serialize(new ECDSASigValue({ r: trim(raw.subarray(0, size)), s: trim(raw.subarray(size)) }));
      assert.deepEqual(Buffer.from(ecdsaRawToDer(raw)), Buffer.from(expected));
    }),
    { numRuns: 500 },
  );
});

test('the CSR parser agrees with @peculiar/x509 on openssl and WebCrypto requests, and refuses broken ones', async () => {
  const dir = fs.mkdtempSync(path.join(home.home, 'csr-'));
  for (const key of ['ec-p256', 'ec-p384', 'rsa-2048', 'ed25519'] as const) {
    const { csrPem } = await opensslCsr(dir, { key, subject: '/CN=dev-7/O=Acme Devices/OU=Line 3', addext: ['subjectAltName=DNS:dev-7.example,URI:urn:dev:7'] });
    const der = decodeCsr(csrPem);
    const parsed = parseAndVerifyCsr(der);
    assert.ok(!isCsrProblem(parsed), `${key}: ${JSON.stringify(parsed)}`);
    const reference = new x509.Pkcs10CertificateRequest(der);
    assert.ok(await reference.verify(), `${key}: @peculiar agrees the signature verifies`);
    assert.deepEqual(Buffer.from(parsed.spkiDer), Buffer.from(reference.publicKey.rawData));
    assert.equal(parsed.commonName, 'dev-7');
    assert.equal(parsed.keyType, key);
    const verified = await verifyCsr(csrPem);
    assert.deepEqual(verified.requested.names.dns, ['dev-7.example']);
    assert.deepEqual(verified.requested.names.uri, ['urn:dev:7']);
    // One flipped bit in the signed part: no proof of possession.
    const broken = parseAndVerifyCsr(decodeCsr(breakSignature(csrPem)));
    assert.ok(isCsrProblem(broken) && broken.code === 'csr_signature', `${key}: ${JSON.stringify(broken)}`);
  }
  // Truncations and trailing bytes are csr_invalid, never an exception.
  const { csrPem } = await opensslCsr(dir, { key: 'ec-p256', subject: '/CN=x' });
  const der = decodeCsr(csrPem);
  for (let cut = 0; cut < der.length; cut += 7) {
    const result = parseAndVerifyCsr(der.subarray(0, cut));
    assert.ok(isCsrProblem(result), `truncated at ${cut}`);
  }
  assert.equal((parseAndVerifyCsr(new Uint8Array([...der, 0])) as { code: string }).code, 'csr_invalid');
});

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`batch issuance on ${backend.name}`, () => {
    let ca: TestCa;
    let dir: string;
    before(async () => {
      ca = await startTestCa(home, backend, `fast-${backend.name}`);
      dir = fs.mkdtempSync(path.join(home.home, `batch-${backend.name}-`));
    });
    after(async () => {
      await ca?.close();
      await backend.cleanup();
    });

    test('a spliced TBSCertificate is byte for byte the one the schema encoder makes, for random subjects, names and keys', async () => {
      const profile = ca.issue.profiles.get('device')!;
      const issuer = ca.issue.issuers.get(profile.issuer);
      const template = leafTemplate(issuer, profile, ca.issue.publicBaseUrl, 3);
      const keys = ['P-256', 'P-384'].map((c) => new Uint8Array(generateKeyPairSync('ec', { namedCurve: c }).publicKey.export({ format: 'der', type: 'spki' })));
      keys.push(new Uint8Array(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'der', type: 'spki' })));
      const dnsName = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}(\.[a-z]{2,5}){1,2}$/);
      fc.assert(
        fc.property(
          attributes,
          fc.array(dnsName, { maxLength: 3 }),
          fc.array(fc.webUrl(), { maxLength: 2 }),
          fc.constantFrom(0, 1, 2),
          fc.integer({ min: 1, max: 700 }),
          (subject, dns, uri, keyIndex, days) => {
            const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000);
            const draft: Draft = { subject: subject as Draft['subject'], names: { dns, uri, ip: [], email: [] }, notBefore, notAfter: new Date(notBefore.getTime() + days * 86_400_000) };
            if (!draft.subject.length && !dns.length && !uri.length) draft.names.dns.push('fallback.example');
            const serial = randomSerial();
            const spkiDer = keys[keyIndex]!;
            const spliced = buildLeafTbs(template, draft, spkiDer, serial);
            const spki = AsnConvert.parse(spkiDer, SubjectPublicKeyInfo);
            assert.deepEqual(keyIdOfSpki(spkiDer), keyIdentifier(spki));
            const extensions = leafExtensions({ profile, draft, subjectKeyId: keyIdentifier(spki), issuerName: issuer.name, issuerKeyId: issuer.ski, publicBaseUrl: ca.issue.publicBaseUrl, crlShard: 3 });
            const reference = encodeTbsCertificate(
              { serial, issuer: issuer.subject, subject: buildName(draft.subject), notBefore: draft.notBefore, notAfter: draft.notAfter, spki, extensions },
              algorithmIdentifier(issuer.signer.algorithm),
            );
            assert.deepEqual(Buffer.from(spliced), Buffer.from(reference));
          },
        ),
        { numRuns: 150 },
      );
    });

    test('a batch of 300: good requests are issued (worker-signed, openssl-verified, every one linted clean), bad ones fail alone, each audited', async () => {
      // A key for each identity: one public key is bound to one identity.
      const good = Array.from({ length: 300 }, () => craftEcCsr({ subject: cnName('whatever') }));
      const auditBefore = Number((await sql(await sequenced(ca.ctx.store))('audit_events').count({ n: '*' }))[0]!.n);
      const inputs = Array.from({ length: 300 }, (_, i) => ({
        csr: i % 50 === 7 ? breakSignature(good[i]!) : good[i]!,
        profile: i % 50 === 9 ? 'no-such-profile' : 'device',
        identity: i % 50 === 11 ? 'bad identity with spaces' : `batch-${backend.name}-${i}`,
        requester: { kind: 'cli' as const },
        actor: 'test',
      }));
      const results = await issueBatch(ca.issue, inputs);
      const failed = results.map((r, i) => (r instanceof Error ? i : -1)).filter((i) => i >= 0);
      assert.deepEqual(failed, inputs.map((_, i) => i).filter((i) => [7, 9, 11].includes(i % 50)));
      const issued = results.filter((r) => !(r instanceof Error)) as Exclude<(typeof results)[number], Error>[];
      assert.equal(new Set(issued.map((r) => r.serial)).size, 282, 'distinct serials');
      // Every certificate, not only the template's first, passes the full lint.
      for (const r of issued) assert.deepEqual(lintCertificate(tbsOf(r.der), ca.issue.issuers.get('issuing').lint), []);
      const bundle = path.join(dir, 'all.pem');
      fs.writeFileSync(bundle, issued.map((r) => r.certificate).join(''));
      const out = await mustRun('openssl', ['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', ca.rootFile, '-untrusted', ca.issuingFile, bundle]);
      assert.match(out, /all\.pem: OK/);
      for (const r of issued.slice(0, 20)) {
        fs.writeFileSync(path.join(dir, 'one.pem'), r.certificate);
        await mustRun('openssl', ['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', ca.rootFile, '-untrusted', ca.issuingFile, path.join(dir, 'one.pem')]);
      }
      const rows = await sql(ca.ctx.store)('certificates').whereIn('serial', issued.map((r) => r.serial));
      assert.equal(rows.length, 282);
      for (const row of rows) {
        assert.equal(row.status, 'active');
        assert.equal(row.tbs, null);
        assert.deepEqual(Buffer.from(row.der), Buffer.from(issued.find((r) => r.serial === row.serial)!.der));
      }
      // One pending audit event per intent, in the same chain; refused requests wrote no certificate row.
      const auditAfter = Number((await sql(await sequenced(ca.ctx.store))('audit_events').count({ n: '*' }))[0]!.n);
      assert.equal(auditAfter - auditBefore, 282);
    });

    test('outcomes are recorded all or none: one intent no longer pending and none of the batch becomes active', async () => {
      const intent = (serial: string) => ({ serial, issuer: 'issuing', profile: 'device', identity: null, subject: 'CN=x', not_before: 0, not_after: 1, key_type: 'ec-p256', requested_by: 'test', created_at: Date.now(), tbs: Uint8Array.of(1, 2, 3) });
      const serials = [1, 2, 3].map((i) => `7e57${backend.name.length}${i}`.padEnd(32, '0'));
      await sql(ca.ctx.store).transaction((trx) => ca.issue.store.recordIntents(asTx(trx), serials.map(intent)));
      await sql(ca.ctx.store)('certificates').where({ serial: serials[1] }).update({ status: 'failed' });
      await assert.rejects(ca.issue.store.recordIssued(serials.map((serial) => ({ serial, der: Uint8Array.of(9) })), Date.now()), /1 of 3 certificates were not pending/);
      const rows = await sql(ca.ctx.store)('certificates').whereIn('serial', serials).orderBy('serial');
      assert.deepEqual(rows.map((r) => r.status), ['pending', 'failed', 'pending']);
      assert.ok(rows.every((r) => r.der === null));
      await ca.issue.store.recordIssued([serials[0]!, serials[2]!].map((serial) => ({ serial, der: Uint8Array.of(9) })), Date.now());
      assert.deepEqual((await sql(ca.ctx.store)('certificates').whereIn('serial', serials).orderBy('serial')).map((r) => r.status), ['active', 'failed', 'active']);
    });

    test('a serial collision rolls back the intents and their audit events sent together with them', async () => {
      const intent = (serial: string) => ({ serial, issuer: 'issuing', profile: 'device', identity: null, subject: 'CN=x', not_before: 0, not_after: 1, key_type: 'ec-p256', requested_by: 'test', created_at: Date.now(), tbs: Uint8Array.of(1) });
      const taken = `c011${backend.name.length}`.padEnd(32, '0');
      await sql(ca.ctx.store).transaction((trx) => ca.issue.store.recordIntents(asTx(trx), [intent(taken)]));
      const head = await sql(await sequenced(ca.ctx.store))('audit_head').first();
      const events = Number((await sql(await sequenced(ca.ctx.store))('audit_events').count({ n: '*' }))[0]!.n);
      const fresh = Array.from({ length: 50 }, (_, i) => `c012${backend.name.length}${String(i).padStart(3, '0')}`.padEnd(32, '0'));
      await assert.rejects(
        sql(ca.ctx.store).transaction((trx) =>
          together(trx, [
            () => ca.issue.store.recordIntents(asTx(trx), [...fresh, taken].map(intent)),
            () => ca.issue.audit.recordManyIn(asTx(trx), fresh.map((serial) => ({ actor: 'test', action: 'certificate.issue', target: serial, outcome: 'pending' as const }))),
          ]),
        ),
        (e: unknown) => isUniqueViolation(e),
      );
      assert.deepEqual(await sql(ca.ctx.store)('audit_head').first(), head, 'audit head unchanged');
      assert.equal(Number((await sql(await sequenced(ca.ctx.store))('audit_events').count({ n: '*' }))[0]!.n), events, 'no audit event kept');
      assert.equal((await sql(ca.ctx.store)('certificates').whereIn('serial', fresh)).length, 0, 'no intent kept');
    });

    test('the spliced certs-only PKCS#7 is byte for byte what pkijs encodes, and openssl reads it', async () => {
      const chain = [ca.issue.issuers.get('issuing').certificate, ca.issue.issuers.get('root').certificate];
      for (const set of [[chain[0]!], chain]) {
        const spliced = certsOnly(set);
        assert.deepEqual(Buffer.from(spliced), Buffer.from(certsOnlyReference(set)));
        fs.writeFileSync(path.join(dir, 'p7.der'), spliced);
        const out = await mustRun('openssl', ['pkcs7', '-inform', 'DER', '-in', path.join(dir, 'p7.der'), '-print_certs', '-noout']);
        assert.equal((out.match(/subject=/g) ?? []).length, set.length);
      }
    });

    test('certificates issued by the signing workers carry signatures openssl accepts, with the CA key never read', async () => {
      const results = await issueBatch(ca.issue, Array.from({ length: 64 }, (_, i) => ({ csr: craftEcCsr({ subject: cnName('w') }), profile: 'device', identity: `w-${backend.name}-${i}`, requester: { kind: 'cli' as const }, actor: 'test' })));
      assert.ok(results.every((r) => !(r instanceof Error)), String(results.find((r) => r instanceof Error)));
      const file = path.join(dir, 'w.pem');
      fs.writeFileSync(file, results.map((r) => (r as { certificate: string }).certificate).join(''));
      await mustRun('openssl', ['verify', '-CAfile', ca.rootFile, '-untrusted', ca.issuingFile, file]);
      const protection = await ca.ctx.keys!.describeProtection(parseKeyUri((await ca.ctx.cas.get('issuing'))!.key_uri));
      assert.equal(protection.extractable, false);
      assert.equal(protection.sensitive, true);
    });
  });
}
