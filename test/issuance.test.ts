import { sql } from '../src/store/handle.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as asn1js from 'asn1js';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { BACKENDS } from './helpers/backends.js';
import { breakSignature, opensslCsr } from './helpers/csr.js';
import { craftEcCsr } from './helpers/crafted-csr.js';
import { startTestCa, type TestCa } from './helpers/ca.js';
import { mustRun, run } from './helpers/run.js';
import { issueCertificate } from '../src/ca/issue.js';
import { initializeCa } from '../src/ca/init.js';
import { parseKeyUri } from '../src/keys/key-uri.js';
import { HallmarkError } from '../src/base/errors.js';
import { sequenced } from './helpers/sequenced.js';

let home: TestHome;
before(async () => {
  home = await makeTestHome(['hallmark-sqlite', 'hallmark-postgres']);
});
after(() => home?.cleanup());

/** The raw DER of the TBSCertificate field at `index` (3 = issuer, 5 = subject). */
function tbsField(der: Uint8Array, index: number): Buffer {
  const cert = asn1js.fromBER(new Uint8Array(der)).result as asn1js.Sequence;
  const tbs = cert.valueBlock.value[0] as asn1js.Sequence;
  return Buffer.from(tbs.valueBlock.value[index]!.valueBeforeDecodeView);
}

async function rowCounts(ca: TestCa) {
  const count = async (table: string) => Number((await sql(ca.ctx.store)(table).count({ n: '*' }))[0]!.n);
  // Entries chained or still waiting for the sequencer: every one appended.
  return { certificates: await count('certificates'), audit: (await count('audit_events')) + (await count('audit_pending')) };
}

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`issuance on ${backend.name}`, () => {
    let ca: TestCa;
    let dir: string;
    before(async () => {
      ca = await startTestCa(home, backend, `hallmark-${backend.name}`);
      dir = path.join(home.home, `work-${backend.name}`);
      fs.mkdirSync(dir);
    });
    after(async () => {
      await ca?.close();
      await backend.cleanup();
    });

    test('a CSR made by openssl req becomes a device certificate that openssl verify accepts for TLS clients', async () => {
      const { csrPem } = await opensslCsr(dir, { key: 'ec-p256', subject: '/CN=ignored/O=Evil Corp' });
      const issued = await issueCertificate(ca.issue, { csr: csrPem, profile: 'device', identity: 'dev-0001', requester: { kind: 'cli' as const }, actor: 'test' });
      assert.match(issued.serial, /^[0-9a-f]{32}$/);
      assert.equal(issued.chain.length, 1, 'chain is the issuing CA, not the root');
      const certFile = path.join(dir, 'dev-0001.pem');
      fs.writeFileSync(certFile, issued.certificate);
      const verified = await run('openssl', ['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', ca.rootFile, '-untrusted', ca.issuingFile, certFile]);
      assert.equal(verified.code, 0, verified.stderr + verified.stdout);
      assert.match(verified.stdout, /: OK/);

      const text = await mustRun('openssl', ['x509', '-in', certFile, '-noout', '-text']);
      assert.match(text, /Subject: CN = dev-0001, O = Hallmark Devices/, 'subject from the profile, not the CSR');
      assert.match(text, /Basic Constraints: critical\s+CA:FALSE/);
      assert.match(text, /Key Usage: critical\s+Digital Signature\n/);
      assert.match(text, /Extended Key Usage:\s+TLS Web Client Authentication\n/);
      assert.match(text, /URI:urn:dev:hallmark:dev-0001/);
      assert.match(text, /URI:http:\/\/localhost:8080\/crl\/issuing\.crl/);
      assert.match(text, /OCSP - URI:http:\/\/localhost:8080\/ocsp/);
      assert.match(text, /CA Issuers - URI:http:\/\/localhost:8080\/ca\/issuing\.crt/);
      const ski = /Subject Key Identifier:\s+([0-9A-F:]+)/.exec(await mustRun('openssl', ['x509', '-in', ca.issuingFile, '-noout', '-text']))![1];
      const aki = /Authority Key Identifier:\s+(?:keyid:)?([0-9A-F:]+)/.exec(text)![1];
      assert.equal(aki, ski, 'AKI is exactly the issuer SKI (20 bytes, nothing more)');
      assert.deepEqual(tbsField(issued.der, 3), tbsField(ca.issue.issuers.get('issuing').certificate, 5), 'issuer is the CA subject byte for byte');
      const serialHex = (await mustRun('openssl', ['x509', '-in', certFile, '-noout', '-serial'])).trim().split('=')[1]!.toLowerCase();
      assert.equal(serialHex, issued.serial);
    });

    test('the certificate is recorded before it is returned, with its audit event', async () => {
      const { csrPem } = await opensslCsr(dir);
      const issued = await issueCertificate(ca.issue, { csr: csrPem, profile: 'device', identity: 'dev-0002', requester: { kind: 'cli' as const }, actor: 'test' });
      const row = await ca.ctx.certificates.get(issued.serial);
      assert.equal(row?.status, 'active');
      assert.deepEqual(new Uint8Array(row!.der!), issued.der);
      assert.equal(row?.tbs, null);
      assert.equal(row?.identity, 'dev-0002');
      const event = await sql(await sequenced(ca.ctx.store))('audit_events').where({ action: 'certificate.issue', target: issued.serial }).first();
      assert.equal(event?.outcome, 'pending');
      assert.match(event?.details, /dev-0002/);
    });

    test('RSA and P-384 device keys and a tls-server certificate with DNS and IP names', async () => {
      for (const key of ['rsa-2048', 'ec-p384'] as const) {
        const { csrPem } = await opensslCsr(dir, { key });
        const issued = await issueCertificate(ca.issue, { csr: csrPem, profile: 'device', identity: `dev-${key}`, requester: { kind: 'cli' as const }, actor: 'test' });
        const file = path.join(dir, `${key}.pem`);
        fs.writeFileSync(file, issued.certificate);
        await mustRun('openssl', ['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', ca.rootFile, '-untrusted', ca.issuingFile, file]);
      }
      // The shipped tls-server profile accepts the configured service names (tlsNames) only.
      const { csrPem } = await opensslCsr(dir, { subject: '/CN=localhost', addext: ['subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1'] });
      const issued = await issueCertificate(ca.issue, { csr: csrPem, profile: 'tls-server', requester: { kind: 'cli' as const }, actor: 'test' });
      const file = path.join(dir, 'server.pem');
      fs.writeFileSync(file, issued.certificate);
      await mustRun('openssl', ['verify', '-x509_strict', '-purpose', 'sslserver', '-CAfile', ca.rootFile, '-untrusted', ca.issuingFile, file]);
      const text = await mustRun('openssl', ['x509', '-in', file, '-noout', '-ext', 'subjectAltName']);
      assert.match(text, /DNS:localhost, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1/);
    });

    const refusals: [string, () => Promise<{ csr: string; profile?: string; identity?: string; validityDays?: number }>, string, RegExp][] = [
      ['a CSR with a broken signature', async () => ({ csr: breakSignature((await opensslCsr(dir)).csrPem) }), 'csr_signature', /does not verify/],
      ['a CSR asking for CA:TRUE', async () => ({ csr: (await opensslCsr(dir, { addext: ['basicConstraints=critical,CA:TRUE'] })).csrPem }), 'policy_violation', /CA certificate/],
      ['a disallowed key type (Ed25519)', async () => ({ csr: (await opensslCsr(dir, { key: 'ed25519' })).csrPem }), 'policy_violation', /key type ed25519 is not allowed/],
      ['a disallowed key type (P-521)', async () => ({ csr: (await opensslCsr(dir, { key: 'ec-p521' })).csrPem }), 'policy_violation', /key type ec-p521 is not allowed/],
      ['a validity over the profile maximum', async () => ({ csr: (await opensslCsr(dir)).csrPem, validityDays: 826 }), 'policy_violation', /exceeds the profile maximum of 825/],
      ['an extra EKU (serverAuth on a device)', async () => ({ csr: (await opensslCsr(dir, { addext: ['extendedKeyUsage=serverAuth,clientAuth'] })).csrPem }), 'policy_violation', /serverAuth is not in the profile/],
      ['a CA key usage', async () => ({ csr: (await opensslCsr(dir, { addext: ['keyUsage=critical,digitalSignature,keyCertSign'] })).csrPem }), 'policy_violation', /CA key usages/],
      ['a DNS name the device profile does not accept', async () => ({ csr: (await opensslCsr(dir, { addext: ['subjectAltName=DNS:bank.example'] })).csrPem }), 'policy_violation', /dns name "bank\.example" is not accepted from a CSR/],
      ['a device id that does not match the profile pattern', async () => ({ csr: (await opensslCsr(dir)).csrPem, identity: 'bad id/../x' }), 'policy_violation', /does not match/],
      ['no device id where the profile needs one', async () => ({ csr: (await opensslCsr(dir)).csrPem, identity: '' }), 'policy_violation', /identity \(device id\) is required/],
      ['an unknown profile', async () => ({ csr: (await opensslCsr(dir)).csrPem, profile: 'nope' }), 'unknown_profile', /no profile named "nope"/],
      ['garbage instead of a CSR', async () => ({ csr: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n' }), 'csr_invalid', /not a valid PKCS#10/],
      ['text that is neither PEM nor base64', async () => ({ csr: 'hello, CA!' }), 'csr_invalid', /neither PEM nor base64/],
    ];
    for (const [what, make, code, message] of refusals) {
      test(`refuses ${what} with a clear message and writes nothing`, async () => {
        const input = await make();
        const before = await rowCounts(ca);
        const error = await issueCertificate(ca.issue, {
          csr: input.csr,
          profile: input.profile ?? 'device',
          identity: 'identity' in input ? input.identity : 'dev-refused',
          validityDays: input.validityDays,
          requester: { kind: 'cli' as const }, actor: 'test',
        }).then(
          () => assert.fail('issued'),
          (e: unknown) => e,
        );
        assert.ok(error instanceof HallmarkError, String(error));
        assert.equal(error.code, code);
        assert.match(error.message, message);
        assert.ok(error.status >= 400 && error.status < 500);
        assert.deepEqual(await rowCounts(ca), before);
      });
    }

    test('200 concurrent issuances produce 200 distinct serials, all recorded', async () => {
      // A key for each: one public key is bound to one identity.
      const csrs = Array.from({ length: 200 }, () => craftEcCsr());
      const issued = await Promise.all(
        Array.from({ length: 200 }, (_, i) => issueCertificate(ca.issue, { csr: csrs[i]!, profile: 'device', identity: `bulk-${i}`, requester: { kind: 'cli' as const }, actor: 'test' })),
      );
      const serials = new Set(issued.map((c) => c.serial));
      assert.equal(serials.size, 200);
      const rows = await sql(ca.ctx.store)('certificates').whereIn('serial', [...serials]).select('serial', 'status', 'der');
      assert.equal(rows.length, 200);
      assert.ok(rows.every((r) => r.status === 'active' && r.der), 'every one is active with its DER');
      const file = path.join(dir, 'bulk.pem');
      fs.writeFileSync(file, issued[199]!.certificate);
      await mustRun('openssl', ['verify', '-CAfile', ca.rootFile, '-untrusted', ca.issuingFile, file]);
    });

    test('the CA keys on the token are sensitive and were never extractable', async () => {
      for (const row of await ca.ctx.cas.list()) {
        const protection = await ca.ctx.keys!.describeProtection(parseKeyUri(row.key_uri));
        assert.equal(protection.extractable, false, `${row.name} CKA_EXTRACTABLE`);
        assert.equal(protection.sensitive, true, `${row.name} CKA_SENSITIVE`);
        assert.equal(protection.neverExtractable, true, `${row.name} CKA_NEVER_EXTRACTABLE`);
      }
    });

    test('the CA hierarchy: root self-signed, issuing CA with pathlen 0, verified by openssl', async () => {
      await mustRun('openssl', ['verify', '-x509_strict', '-CAfile', ca.rootFile, ca.issuingFile]);
      const text = await mustRun('openssl', ['x509', '-in', ca.issuingFile, '-noout', '-text']);
      assert.match(text, /Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
      assert.match(text, /Key Usage: critical\s+Certificate Sign, CRL Sign/);
    });

    test('init refuses to overwrite an existing CA', async () => {
      const before = await rowCounts(ca);
      await assert.rejects(
        initializeCa({ store: ca.ctx.store, keys: ca.ctx.keys!, cas: ca.ctx.cas, audit: ca.ctx.audit, clock: ca.ctx.clock, config: ca.ctx.config, tokenLabel: `hallmark-${backend.name}` }),
        /already exists.*refusing to overwrite/,
      );
      assert.deepEqual(await rowCounts(ca), before);
    });

    test('a certificate never outlives its issuer: validity is cut at the CA notAfter', async () => {
      const issuer = ca.issue.issuers.get('issuing');
      const late = new Date(issuer.notAfter.getTime() - 10 * 86_400_000);
      const { csrPem } = await opensslCsr(dir);
      const issued = await issueCertificate({ ...ca.issue, clock: { now: () => late } }, { csr: csrPem, profile: 'device', identity: 'dev-late', requester: { kind: 'cli' as const }, actor: 'test' });
      assert.equal(issued.notAfter.getTime(), issuer.notAfter.getTime());
      const expired = new Date(issuer.notAfter.getTime() + 1000);
      await assert.rejects(issueCertificate({ ...ca.issue, clock: { now: () => expired } }, { csr: csrPem, profile: 'device', identity: 'dev-late', requester: { kind: 'cli' as const }, actor: 'test' }), /has expired/);
    });
  });
}
