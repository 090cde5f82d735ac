import { sql } from '../src/store/handle.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { sqliteBackend } from './helpers/backends.js';
import { configCopy, startInProcess, type InProcessHallmark } from './helpers/in-process.js';
import { cnName, craftEcCsr, csrAttribute, oid } from './helpers/crafted-csr.js';
import { derSequence, tlv } from '../src/x509/der.js';
import http from 'node:http';
import tls from 'node:tls';
import { once } from 'node:events';
import { cliEnv, hallmarkJson } from './helpers/cli.js';
import { mustRun, run } from './helpers/run.js';
import { createEnrollmentToken } from '../src/auth/enrollment-tokens.js';
import { children, readTlv, type Tlv } from '../src/x509/der-reader.js';
import { compareDerSetComponents } from '../src/x509/der.js';
import { toPem } from '../src/x509/pem.js';
import { sequenced } from './helpers/sequenced.js';

/**
 * Conformance with clients nobody here wrote (openssl, curl), each assertion naming the section it
 * checks: EST (RFC 7030, RFC 8951), HTTP (RFC 9110), CRL and OCSP over HTTP (RFC 5280, RFC 5019).
 */

let home: TestHome;
let hm: InProcessHallmark;
let dir: string;
let rootFile: string;
const manufacturer = { key: '', cert: '' };
before(async () => {
  home = await makeTestHome(['conformance']);
  dir = fs.mkdtempSync(path.join(home.home, 'c-'));
  manufacturer.key = path.join(dir, 'mfr.key');
  manufacturer.cert = path.join(dir, 'mfr.pem');
  // A manufacturer CA whose device certificates enroll on the default label (bootstrap, RFC 7030 §3.3.2).
  await mustRun('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', manufacturer.key, '-out', manufacturer.cert, '-subj', '/CN=Conformance Manufacturing CA', '-days', '30', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  // A second label that requires channel binding (RFC 7030 §3.5).
  const configFile = configCopy(path.join(dir, 'config'), (c) => {
    c.est = { bootstrapCas: [manufacturer.cert], labels: { default: { profile: 'device', enroll: ['token', 'bootstrap'] }, bound: { profile: 'device', enroll: ['token'], channelBinding: true }, held: { profile: 'device', enroll: ['token'], manualApproval: true, retryAfterSeconds: 30 } } };
  });
  hm = await startInProcess(home, sqliteBackend(), 'conformance', { configFile });
  rootFile = path.join(dir, 'root.pem');
  fs.writeFileSync(rootFile, hm.rootPem);
});
after(async () => {
  await hm?.close();
  home?.cleanup();
});

const est = (op: string) => `https://localhost:${hm.running.https}/.well-known/est/${op}`;
const plain = (p: string) => `http://127.0.0.1:${hm.running.http}${p}`;
/** curl's answer: status, headers (lower-case names) and body. */
async function curl(args: string[]): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const headersFile = path.join(dir, `h-${Math.random().toString(36).slice(2)}`);
  const out = await run('curl', ['-sS', '--cacert', rootFile, '-D', headersFile, ...args]);
  assert.equal(out.code, 0, out.stderr);
  const lines = fs.readFileSync(headersFile, 'utf8').split('\r\n');
  const status = Number(lines[0]!.split(' ')[1]);
  const headers = Object.fromEntries(lines.slice(1).filter((l) => l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  return { status, headers, body: out.stdout };
}

/** X.690 §10.1 and §11.6: definite minimal lengths throughout, and every SET OF in ascending order. */
function assertDer(bytes: Uint8Array, what: string, tlv: Tlv = readTlv(bytes, 0)): void {
  if (!(tlv.tag & 0x20)) return;
  const kids = children(bytes, tlv);
  if (tlv.tag === 0x31) {
    for (let i = 1; i < kids.length; i++) {
      const a = bytes.subarray(kids[i - 1]!.start, kids[i - 1]!.end);
      const b = bytes.subarray(kids[i]!.start, kids[i]!.end);
      assert.ok(compareDerSetComponents(a, b) <= 0, `${what}: a SET OF at offset ${tlv.start} is not in DER order (X.690 §11.6)`);
    }
  }
  for (const kid of kids) assertDer(bytes, what, kid);
}

/** X.690 §10.2: DER strings are primitive; pkijs writes constructed OCTET STRINGs unless told not to. */
function assertNoConstructedStrings(bytes: Uint8Array, what: string, tlv: Tlv = readTlv(bytes, 0)): void {
  assert.ok(![0x23, 0x24, 0x2c].includes(tlv.tag), `${what}: a constructed string at offset ${tlv.start} (DER forbids it, X.690 §10.2)`);
  if (tlv.tag & 0x20) for (const kid of children(bytes, tlv)) assertNoConstructedStrings(bytes, what, kid);
}

/** The certificates [0] IMPLICIT SET OF of a certs-only SignedData (RFC 5652 §5.1), as its encodings. */
function certificateSet(pkcs7: Uint8Array): Uint8Array[] {
  const [, explicit] = children(pkcs7, readTlv(pkcs7, 0));
  const [signedData] = children(pkcs7, explicit!);
  const certificates = children(pkcs7, signedData!).find((t) => t.tag === 0xa0)!;
  return children(pkcs7, certificates).map((c) => pkcs7.subarray(c.start, c.end));
}

const base64Der = (text: string) => new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'base64'));

async function enrollByEst(device: string): Promise<{ certFile: string; keyFile: string; serial: string; certificate: string }> {
  const secret = (await createEnrollmentToken(hm.ctx.store, { device, expiresAt: new Date(Date.now() + 3_600_000), createdBy: 'test', now: new Date() })).secret;
  const keyFile = path.join(dir, `${device}.key`);
  await mustRun('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile]);
  const csr = await csrBase64(keyFile, `/CN=${device}`);
  const r = await curl(['-u', `${device}:${secret}`, '-H', 'Content-Type: application/pkcs10', '--data-binary', csr, est('simpleenroll')]);
  assert.equal(r.status, 200, r.body);
  return { keyFile, ...(await certificateFrom(r.body, device)) };
}

async function csrBase64(keyFile: string, subject: string, addext: string[] = []): Promise<string> {
  const der = path.join(dir, `r-${Math.random().toString(36).slice(2)}.der`);
  await mustRun('openssl', ['req', '-new', '-key', keyFile, '-subj', subject, ...addext.flatMap((e) => ['-addext', e]), '-outform', 'DER', '-out', der]);
  return fs.readFileSync(der).toString('base64');
}

async function certificateFrom(pkcs7Base64: string, name: string) {
  const p7 = path.join(dir, `${name}-${Math.random().toString(36).slice(2)}.p7`);
  fs.writeFileSync(p7, Buffer.from(pkcs7Base64.replace(/\s+/g, ''), 'base64'));
  const certFile = path.join(dir, `${name}-${Math.random().toString(36).slice(2)}.pem`);
  await mustRun('openssl', ['pkcs7', '-inform', 'DER', '-in', p7, '-print_certs', '-out', certFile]);
  const certificate = fs.readFileSync(certFile, 'utf8');
  const serial = (await mustRun('openssl', ['x509', '-in', certFile, '-noout', '-serial'])).trim().split('=')[1]!.toLowerCase();
  return { certFile, serial, certificate };
}

const sanOf = async (certFile: string) => (await mustRun('openssl', ['x509', '-in', certFile, '-noout', '-ext', 'subjectAltName'])).split('\n').slice(1).join('').trim();

describe('EST (RFC 7030, RFC 8951)', () => {
  test('RFC 8951 §3, X.690 §11.6: cacerts, enrollment answers, CRLs, OCSP answers, csrattrs and certificates are DER, every SET OF in order', async () => {
    const cacerts = await curl([est('cacerts')]);
    assert.equal(cacerts.status, 200);
    const p7 = base64Der(cacerts.body);
    assertDer(p7, 'cacerts');
    const set = certificateSet(p7);
    assert.ok(set.length >= 2, 'the issuing CA and the root');
    for (let i = 1; i < set.length; i++) assert.ok(compareDerSetComponents(set[i - 1]!, set[i]!) < 0, 'cacerts certificates in DER SET order');
    const device = await enrollByEst('conf-der');
    // openssl pkcs7 -print_certs writes subject= and issuer= lines before the PEM block.
    const certDer = base64Der(/-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/.exec(device.certificate)![1]!);
    assertDer(certDer, 'issued certificate');
    const csrattrs = await curl([est('csrattrs')]);
    assert.equal(csrattrs.status, 200);
    assertDer(base64Der(csrattrs.body), 'csrattrs');
    const crl = await fetch(plain('/crl/issuing.crl'));
    assertDer(new Uint8Array(await crl.arrayBuffer()), 'CRL');
    const issuingFile = path.join(dir, 'issuing.pem');
    fs.writeFileSync(issuingFile, toPem(hm.running.issue.issuers.get('issuing').certificate, 'CERTIFICATE'));
    const respout = path.join(dir, 'ocsp.der');
    await mustRun('openssl', ['ocsp', '-issuer', issuingFile, '-cert', device.certFile, '-url', plain('/ocsp'), '-no_nonce', '-CAfile', rootFile, '-respout', respout]);
    assertDer(new Uint8Array(fs.readFileSync(respout)), 'OCSP response');
  });

  test('RFC 7030 §4.2.2: renewal with a CSR that repeats the subject and the SAN, as the reference client sends it, over EST and REST', async () => {
    const id = 'conf-renew';
    const first = await enrollByEst(id);
    const renewCsr = () => csrBase64(first.keyFile, `/CN=${id}/O=Hallmark Devices`, [`subjectAltName=URI:urn:dev:hallmark:${id}`]);
    // Too early by default: the 403 says when renewal opens, and how an operator lets it renew now.
    const early = await curl(['--cert', first.certFile, '--key', first.keyFile, '-H', 'Content-Type: application/pkcs10', '--data-binary', await renewCsr(), est('simplereenroll')]);
    assert.equal(early.status, 403, early.body);
    assert.match(early.body, /opens at .*est\.renewal\.fromFraction.*hallmark cert allow-renewal /);
    const allowed = await hm.request('POST', `certificates/${first.serial}/allow-renewal`, { token: hm.init.admin.apiKey });
    assert.equal(allowed.status, 200, allowed.body);
    const renewed = await curl(['--cert', first.certFile, '--key', first.keyFile, '-H', 'Content-Type: application/pkcs10', '--data-binary', await renewCsr(), est('simplereenroll')]);
    assert.equal(renewed.status, 200, renewed.body);
    const second = await certificateFrom(renewed.body, id);
    assert.notEqual(second.serial, first.serial);
    assert.equal(await sanOf(second.certFile), await sanOf(first.certFile), 'the same SAN as the certificate renewed');

    // The JSON twin, with the CLI granting the early renewal this time.
    const env = await cliEnv(home, sqliteBackend(), 'conformance');
    assert.deepEqual(await hallmarkJson(env, 'cert', 'allow-renewal', second.serial), { serial: second.serial, renewalAllowed: true });
    const pem = path.join(dir, 'renew-csr.pem');
    await mustRun('openssl', ['req', '-new', '-key', first.keyFile, '-subj', `/CN=${id}/O=Hallmark Devices`, '-addext', `subjectAltName=URI:urn:dev:hallmark:${id}`, '-out', pem]);
    const rest = await curl(['--cert', second.certFile, '--key', first.keyFile, '-H', 'Content-Type: application/json', '--data-binary', JSON.stringify({ csr: fs.readFileSync(pem, 'utf8') }), `https://localhost:${hm.running.https}/api/v1/renew`]);
    assert.equal(rest.status, 201, rest.body);
    assert.ok(await sql(await sequenced(hm.ctx.store))('audit_events').where({ action: 'certificate.allow-renewal', target: second.serial }).first(), 'the grant is audited');
    assert.equal(await sql(hm.ctx.store)('renewal_grants').where({ serial: second.serial }).first(), undefined, 'a grant is used once');
  });

  test('RFC 7030 §4.4.1: serverkeygen makes the key type the CSR asks for, when the profile allows it', async () => {
    for (const [algorithm, options, expected] of [
      ['RSA', ['-pkeyopt', 'rsa_keygen_bits:2048'], /RSA Private-Key: \(2048 bit|Private-Key: \(2048 bit/],
      ['EC', ['-pkeyopt', 'ec_paramgen_curve:P-384'], /Private-Key: \(384 bit\)/],
      ['EC', ['-pkeyopt', 'ec_paramgen_curve:P-521'], /Private-Key: \(256 bit\)/], // P-521 not in the profile: its first type
    ] as const) {
      const device = `conf-keygen-${algorithm.toLowerCase()}-${options[1].split(':')[1]}`;
      const secret = (await createEnrollmentToken(hm.ctx.store, { device, expiresAt: new Date(Date.now() + 3_600_000), createdBy: 'test', now: new Date() })).secret;
      const keyFile = path.join(dir, `${device}.csr-key`);
      await mustRun('openssl', ['genpkey', '-algorithm', algorithm, ...options, '-out', keyFile]);
      const r = await curl(['-u', `${device}:${secret}`, '-H', 'Content-Type: application/pkcs10', '--data-binary', await csrBase64(keyFile, `/CN=${device}`), est('serverkeygen')]);
      assert.equal(r.status, 200, r.body);
      const boundary = /boundary=([^\s;]+)/.exec(r.headers['content-type']!)![1]!;
      const keyPart = r.body.split(`--${boundary}`)[1]!.split('\r\n\r\n')[1]!;
      const der = path.join(dir, `${device}.key.der`);
      fs.writeFileSync(der, Buffer.from(keyPart.replace(/\s+/g, ''), 'base64'));
      assert.match(await mustRun('openssl', ['pkey', '-inform', 'DER', '-in', der, '-noout', '-text']), expected, device);
    }
  });

  test('RFC 7030 §4.4.2: serverkeygen encrypts the key to the client certificate the request names; openssl cms decrypts and verifies it', async () => {
    const csrNaming = (device: string, attributes: Uint8Array[]) => Buffer.from(craftEcCsr({ subject: cnName(device), attributes }).replace(/-----[A-Z ]+-----|\s/g, ''), 'base64').toString('base64');
    const octets = (hex: string) => tlv(0x04, Uint8Array.from(Buffer.from(hex, 'hex')));
    const ASYMMETRIC = '1.2.840.113549.1.9.16.2.54';
    for (const [algorithm, options, recipientKind] of [
      ['EC', ['-pkeyopt', 'ec_paramgen_curve:P-256'], 'kari'],
      ['RSA', ['-pkeyopt', 'rsa_keygen_bits:2048'], 'ktri'],
    ] as const) {
      // A device's manufacturer (IDevID) certificate with a subjectKeyIdentifier (RFC 5280 §4.2.1.2).
      const device = `conf-wrapped-${algorithm.toLowerCase()}`;
      const idevid = { key: path.join(dir, `${device}.idevid.key`), csr: path.join(dir, `${device}.idevid.csr`), cert: path.join(dir, `${device}.idevid.pem`), ext: path.join(dir, `${device}.ext`) };
      await mustRun('openssl', ['req', '-new', '-newkey', algorithm.toLowerCase() === 'ec' ? 'ec' : 'rsa', ...options, '-nodes', '-keyout', idevid.key, '-out', idevid.csr, '-subj', `/CN=${device}`]);
      fs.writeFileSync(idevid.ext, 'subjectKeyIdentifier=hash\n');
      await mustRun('openssl', ['x509', '-req', '-in', idevid.csr, '-CA', manufacturer.cert, '-CAkey', manufacturer.key, '-CAcreateserial', '-extfile', idevid.ext, '-out', idevid.cert, '-days', '30']);
      const ski = (await mustRun('openssl', ['x509', '-in', idevid.cert, '-noout', '-ext', 'subjectKeyIdentifier'])).split('\n')[1]!.trim().replace(/:/g, '').toLowerCase();
      const withIdevid = ['--cert', idevid.cert, '--key', idevid.key, '-H', 'Content-Type: application/pkcs10'];

      // §4.4.1.2: an identifier that is not this connection's certificate's key is refused, and nothing is issued.
      const wrong = await curl([...withIdevid, '--data-binary', csrNaming(device, [csrAttribute(ASYMMETRIC, octets('00'.repeat(20)))]), est('serverkeygen')]);
      assert.equal(wrong.status, 400, wrong.body);
      assert.match(wrong.body, new RegExp(`subjectKeyIdentifier ${ski}`));
      // §4.4.1.1: Hallmark provisions no symmetric key-encryption keys; the answer says what to use.
      const symmetric = await curl([...withIdevid, '--data-binary', csrNaming(device, [csrAttribute('1.2.840.113549.1.9.16.2.37', octets('01'))]), est('serverkeygen')]);
      assert.equal(symmetric.status, 400, symmetric.body);
      assert.match(symmetric.body, /AsymmetricDecryptKeyIdentifier/);
      assert.equal((await sql(hm.ctx.store)('certificates').where({ identity: device }).count({ n: '*' }))[0]!.n, 0, 'a refused request issues nothing');

      const r = await curl([...withIdevid, '--data-binary', csrNaming(device, [csrAttribute(ASYMMETRIC, octets(ski))]), est('serverkeygen')]);
      assert.equal(r.status, 200, r.body);
      const boundary = /boundary=([^\s;]+)/.exec(r.headers['content-type']!)![1]!;
      const parts = r.body.split(`--${boundary}`).slice(1, -1).map((p) => ({ headers: p.split('\r\n\r\n')[0]!, body: p.split('\r\n\r\n')[1]! }));
      // §4.4.2: the key part is application/pkcs7-mime with smime-type server-generated-key, base64.
      assert.match(parts[0]!.headers, /Content-Type: application\/pkcs7-mime; smime-type=server-generated-key/);
      assert.match(parts[0]!.headers, /Content-Transfer-Encoding: base64/);
      const enveloped = base64Der(parts[0]!.body);
      assertDer(enveloped, `${device} EnvelopedData`);
      assertNoConstructedStrings(enveloped, `${device} EnvelopedData`);
      const envelopedFile = path.join(dir, `${device}.p7m`);
      fs.writeFileSync(envelopedFile, enveloped);
      assert.match(await mustRun('openssl', ['cms', '-cmsout', '-print', '-inform', 'DER', '-in', envelopedFile]), recipientKind === 'kari' ? /d.kari:/ : /d.ktri:/);

      // RFC 5652 §6: the device decrypts with its own key; the content is a SignedData (RFC 5958 §4).
      const signedFile = path.join(dir, `${device}.signed`);
      await mustRun('openssl', ['cms', '-decrypt', '-inform', 'DER', '-in', envelopedFile, '-recip', idevid.cert, '-inkey', idevid.key, '-binary', '-out', signedFile]);
      const signedData = new Uint8Array(fs.readFileSync(signedFile));
      assertDer(signedData, `${device} SignedData`);
      assertNoConstructedStrings(signedData, `${device} SignedData`);
      const contentInfoFile = path.join(dir, `${device}.signed.p7`);
      fs.writeFileSync(contentInfoFile, derSequence(oid('1.2.840.113549.1.7.2'), tlv(0xa0, signedData)));
      // Signed by the EST server (its HTTPS certificate, chained to the root the device trusts).
      const keyPackageFile = path.join(dir, `${device}.keypackage`);
      await mustRun('openssl', ['cms', '-verify', '-inform', 'DER', '-in', contentInfoFile, '-CAfile', rootFile, '-purpose', 'any', '-binary', '-out', keyPackageFile]);
      assert.match(await mustRun('openssl', ['cms', '-cmsout', '-print', '-inform', 'DER', '-in', contentInfoFile]), /eContentType: .*\(?2\.16\.840\.1\.101\.2\.1\.2\.78\.5\)?/);
      // RFC 5958 §2: AsymmetricKeyPackage ::= SEQUENCE OF OneAsymmetricKey; its one key belongs to the certificate.
      const keyPackage = new Uint8Array(fs.readFileSync(keyPackageFile));
      const [oneKey, more] = children(keyPackage, readTlv(keyPackage, 0));
      assert.ok(oneKey && !more, 'one key in the package');
      const keyFile = path.join(dir, `${device}.key.der`);
      fs.writeFileSync(keyFile, keyPackage.subarray(oneKey.start, oneKey.end));
      const { certFile } = await certificateFrom(parts[1]!.body, device);
      assert.equal(await mustRun('openssl', ['pkey', '-inform', 'DER', '-in', keyFile, '-pubout']), await mustRun('openssl', ['x509', '-in', certFile, '-noout', '-pubkey']));
    }

    // A secret-only request has no certificate to encrypt to: 400 that says so, and the secret stays unused.
    const device = 'conf-wrapped-token';
    const secret = (await createEnrollmentToken(hm.ctx.store, { device, expiresAt: new Date(Date.now() + 3_600_000), createdBy: 'test', now: new Date() })).secret;
    const refused = await curl(['-u', `${device}:${secret}`, '-H', 'Content-Type: application/pkcs10', '--data-binary', csrNaming(device, [csrAttribute(ASYMMETRIC, octets('ab'.repeat(20)))]), est('serverkeygen')]);
    assert.equal(refused.status, 400, refused.body);
    assert.match(refused.body, /no client certificate on this connection/);
    const plainKey = await curl(['-u', `${device}:${secret}`, '-H', 'Content-Type: application/pkcs10', '--data-binary', csrNaming(device, []), est('serverkeygen')]);
    assert.equal(plainKey.status, 200, 'the secret still works after the refusal');
  });

  test('RFC 7030 §3.5: a CSR carrying its connection\'s channel binding enrolls; another connection\'s is refused; a label can require it', async () => {
    /** One TLS connection: its binding (TLS 1.3 tls-exporter, or TLS 1.2 tls-unique), then one EST request on it. */
    const enrollOn = async (version: 'TLSv1.3' | 'TLSv1.2', label: string, device: string, password: (binding: Buffer) => string | undefined) => {
      const secret = (await createEnrollmentToken(hm.ctx.store, { device, expiresAt: new Date(Date.now() + 3_600_000), createdBy: 'test', now: new Date() })).secret;
      const socket = tls.connect({ host: '127.0.0.1', servername: 'localhost', port: hm.running.https, ca: hm.rootPem, minVersion: version, maxVersion: version });
      await once(socket, 'secureConnect');
      // RFC 9266 (TLS 1.3) / RFC 5929 §3.1: the client's own Finished opens a full TLS 1.2 handshake.
      const binding = version === 'TLSv1.3' ? socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0)) : socket.getFinished()!;
      const csr = craftEcCsr({ subject: cnName(device), challengePassword: password(binding) });
      const body = Buffer.from(csr.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64').toString('base64');
      const path = `/.well-known/est/${label === 'default' ? '' : `${label}/`}simpleenroll`;
      return new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request({ createConnection: () => socket, method: 'POST', path, headers: { host: 'localhost', authorization: `Basic ${Buffer.from(`${device}:${secret}`).toString('base64')}`, 'content-type': 'application/pkcs10', 'content-length': Buffer.byteLength(body) } }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d));
          res.on('end', () => {
            socket.destroy();
            resolve({ status: res.statusCode!, body: text });
          });
        });
        req.on('error', reject);
        req.end(body);
      });
    };
    for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
      const v = version.slice(-3);
      assert.equal((await enrollOn(version, 'bound', `cb-good-${v}`, (b) => b.toString('base64'))).status, 200, `${version}: its own binding`);
      const stranger = await enrollOn(version, 'default', `cb-other-${v}`, (b) => Buffer.alloc(b.length, 7).toString('base64'));
      assert.equal(stranger.status, 403, `${version}: another connection's binding`);
      assert.match(stranger.body, /not this TLS connection's channel binding/);
    }
    const missing = await enrollOn('TLSv1.3', 'bound', 'cb-missing', () => undefined);
    assert.equal(missing.status, 403);
    assert.match(missing.body, /requires channel binding/);
    assert.equal((await enrollOn('TLSv1.3', 'default', 'cb-optional', () => undefined)).status, 200, 'not required on the default label');
    assert.equal((await enrollOn('TLSv1.3', 'default', 'cb-password', () => 'a plain password')).status, 200, 'a challengePassword that is no binding is ignored there');
  });

  test('RFC 7030 §4.2.3: a label with manual approval answers 202 with Retry-After until an operator decides (CLI or REST)', async () => {
    const token = async (device: string) => (await createEnrollmentToken(hm.ctx.store, { device, label: 'held', expiresAt: new Date(Date.now() + 3_600_000), createdBy: 'test', now: new Date() })).secret;
    const keyFor = async (device: string) => {
      const keyFile = path.join(dir, `${device}.key`);
      await mustRun('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile]);
      return keyFile;
    };
    const enroll = async (device: string, secret: string, keyFile: string) =>
      curl(['-u', `${device}:${secret}`, '-H', 'Content-Type: application/pkcs10', '--data-binary', await csrBase64(keyFile, `/CN=${device}`), est('held/simpleenroll')]);

    const approvedKey = await keyFor('held-1');
    const approvedSecret = await token('held-1');
    const first = await enroll('held-1', approvedSecret, approvedKey);
    assert.equal(first.status, 202, first.body);
    assert.equal(first.headers['retry-after'], '30');
    const id = /enrollment request ([0-9a-f]+)/.exec(first.body)![1]!;
    const again = await enroll('held-1', approvedSecret, approvedKey);
    assert.equal(again.status, 202, 'still held');
    assert.match(again.body, new RegExp(id));
    const pending = await hm.request('GET', 'enrollments?status=pending', { token: hm.init.admin.apiKey });
    assert.ok(pending.json().enrollments.some((e: { id: string; device: string }) => e.id === id && e.device === 'held-1'));
    const env = await cliEnv(home, sqliteBackend(), 'conformance');
    assert.equal((await hallmarkJson(env, 'enrollment', 'approve', id)).status, 'approved');
    const issued = await enroll('held-1', approvedSecret, approvedKey);
    assert.equal(issued.status, 200, issued.body);
    const certificate = await certificateFrom(issued.body, 'held-1');
    assert.equal((await sql(hm.ctx.store)('enrollment_requests').where({ id }).first()).certificate_serial, certificate.serial);

    const rejectedKey = await keyFor('held-2');
    const rejectedSecret = await token('held-2');
    const held = await enroll('held-2', rejectedSecret, rejectedKey);
    assert.equal(held.status, 202);
    const heldId = /enrollment request ([0-9a-f]+)/.exec(held.body)![1]!;
    const rejected = await hm.request('POST', `enrollments/${heldId}/reject`, { token: hm.init.admin.apiKey, body: { reason: 'not one of ours' } });
    assert.equal(rejected.status, 200, rejected.body);
    const refused = await enroll('held-2', rejectedSecret, rejectedKey);
    assert.equal(refused.status, 403);
    assert.match(refused.body, /rejected by apikey:.*not one of ours/);
    assert.ok(await sql(await sequenced(hm.ctx.store))('audit_events').where({ action: 'enrollment.reject', target: heldId }).first());

    // The JSON twin is held the same way.
    const restKey = await keyFor('held-3');
    const pem = path.join(dir, 'held-3.csr');
    await mustRun('openssl', ['req', '-new', '-key', restKey, '-subj', '/CN=held-3', '-out', pem]);
    const rest = await hm.request('POST', 'enroll', { body: { device: 'held-3', secret: await token('held-3'), label: 'held', csr: fs.readFileSync(pem, 'utf8') } });
    assert.equal(rest.status, 202, rest.body);
    assert.equal(rest.json().status, 'pending');
  });

  test('RFC 9110 §15.5.6: a 405 names the methods the operation takes in Allow', async () => {
    for (const [method, op, allow] of [['PUT', 'cacerts', 'GET, HEAD'], ['POST', 'cacerts', 'GET, HEAD'], ['DELETE', 'csrattrs', 'GET, HEAD'], ['GET', 'simpleenroll', 'POST'], ['PUT', 'simplereenroll', 'POST']] as const) {
      const r = await curl(['-X', method, ...(method === 'POST' || method === 'PUT' ? ['-H', 'Content-Type: application/pkcs10', '--data-binary', 'AAAA'] : []), est(op)]);
      assert.equal(r.status, 405, `${method} ${op}: ${r.body}`);
      assert.equal(r.headers.allow, allow, `${method} ${op}`);
    }
  });
});

describe('CRL and OCSP over HTTP (RFC 5280, RFC 5019)', () => {
  test('RFC 9110 §13.1.3: a CRL not modified since its Last-Modified is a 304', async () => {
    const first = await curl([plain('/crl/issuing.crl'), '-o', path.join(dir, 'crl.der')]);
    assert.equal(first.status, 200);
    assert.ok(first.headers['last-modified']);
    const again = await curl(['-H', `If-Modified-Since: ${first.headers['last-modified']}`, plain('/crl/issuing.crl')]);
    assert.equal(again.status, 304);
    const older = await curl(['-H', `If-Modified-Since: ${new Date(Date.parse(first.headers['last-modified']!) - 60_000).toUTCString()}`, plain('/crl/issuing.crl'), '-o', '/dev/null']);
    assert.equal(older.status, 200, 'modified since a minute before');
  });

  test('RFC 5019 §6.2: an OCSP GET answer carries ETag (and a 304 for If-None-Match), Last-Modified, Expires and max-age', async () => {
    const device = await enrollByEst('conf-ocsp');
    // Asked once its pre-produced response is held (within a pass and a poll, about a second): asked
    // before, the first answer is signed live and the second may be the pre-signed one that arrived in
    // between, with an ETag of its own (a 200, rightly).
    for (let i = 0; i < 200 && !hm.running.presigned.answer('issuing', device.serial); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(hm.running.presigned.answer('issuing', device.serial), 'pre-signed within 10 s');
    const issuingFile = path.join(dir, 'issuing.pem');
    fs.writeFileSync(issuingFile, toPem(hm.running.issue.issuers.get('issuing').certificate, 'CERTIFICATE'));
    const reqout = path.join(dir, 'ocsp-req.der');
    await mustRun('openssl', ['ocsp', '-issuer', issuingFile, '-cert', device.certFile, '-no_nonce', '-reqout', reqout]);
    const url = plain(`/ocsp/${encodeURIComponent(fs.readFileSync(reqout).toString('base64'))}`);
    const r = await curl([url, '-o', '/dev/null']);
    assert.equal(r.status, 200);
    assert.match(r.headers.etag ?? '', /^"[A-Za-z0-9_-]+"$/);
    assert.ok(r.headers['last-modified'] && r.headers.expires);
    assert.match(r.headers['cache-control']!, /max-age=\d+/);
    const cached = await curl(['-H', `If-None-Match: ${r.headers.etag}`, url, '-o', '/dev/null']);
    assert.equal(cached.status, 304);
  });
});
