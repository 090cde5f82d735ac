import { sql } from '../src/store/handle.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { BACKENDS, urlWithSchema } from './helpers/backends.js';
import { configCopy, startInProcess, type InProcessHallmark } from './helpers/in-process.js';
import { hallmark } from './helpers/cli.js';
import { mustRun, run } from './helpers/run.js';
import { renewalWindow, revokeSuperseded } from '../src/ca/enroll.js';
import type { CertificateRow } from '../src/store/certificates.js';
import { sequenced } from './helpers/sequenced.js';

let home: TestHome;
before(async () => {
  home = await makeTestHome(['est-sqlite', 'est-postgres']);
});
after(() => home?.cleanup());

test('renewal window: too early, expired, revoked and already renewed certificates cannot renew', () => {
  const day = 86_400_000;
  const row = { serial: 'ab', status: 'active', not_before: 0, not_after: 90 * day, superseded_by: null } as unknown as CertificateRow;
  const policy = { fromFraction: 0.66, revokeSupersededAfterHours: 24 };
  assert.throws(() => renewalWindow(row, policy, new Date(10 * day)), /renewal of ab opens at .* hallmark cert allow-renewal ab/);
  assert.doesNotThrow(() => renewalWindow(row, policy, new Date(10 * day), true), 'an operator allowed it');
  assert.doesNotThrow(() => renewalWindow(row, policy, new Date(70 * day)));
  assert.throws(() => renewalWindow(row, policy, new Date(91 * day)), /has expired/);
  assert.throws(() => renewalWindow({ ...row, status: 'revoked' }, policy, new Date(70 * day)), /is revoked/);
  assert.throws(() => renewalWindow({ ...row, superseded_by: 'cd' }, policy, new Date(70 * day)), /already renewed/);
});

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  const token = `est-${backend.name}`;
  describe(`EST on ${backend.name}, as a device does it with curl and openssl`, () => {
    let hm: InProcessHallmark;
    let dir: string;
    let base: string;
    let rootFile: string;
    let cliEnvironment: NodeJS.ProcessEnv;
    const manufacturer = { key: '', cert: '' };

    before(async () => {
      dir = fs.mkdtempSync(path.join(home.home, `est-${backend.name}-`));
      manufacturer.key = path.join(dir, 'mfr.key');
      manufacturer.cert = path.join(dir, 'mfr.pem');
      await mustRun('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', manufacturer.key, '-out', manufacturer.cert, '-subj', '/CN=Acme Manufacturing CA/O=Acme', '-days', '30', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
      const configFile = configCopy(path.join(dir, 'config'), (c) => {
        c.est = {
          labels: { default: { profile: 'device', enroll: ['token', 'bootstrap'] }, sensors: { profile: 'device', enroll: ['token'] } },
          bootstrapCas: [manufacturer.cert],
          renewal: { fromFraction: 0, revokeSupersededAfterHours: 24 },
          tokenExpiryHours: 1,
        };
      });
      hm = await startInProcess(home, backend, token, { configFile });
      base = `https://localhost:${hm.running.https}/.well-known/est`;
      rootFile = path.join(dir, 'root.pem');
      fs.writeFileSync(rootFile, hm.rootPem);
      cliEnvironment = { ...home.env, HALLMARK_HOME: path.join(home.home, `data-${token}`), HALLMARK_PKCS11_TOKEN: token, HALLMARK_CONFIG: configFile };
      if (backend.url) cliEnvironment.DATABASE_URL = urlWithSchema(backend);
    });
    after(async () => {
      await hm?.close();
      await backend.cleanup();
    });

    let counter = 0;
    /** `openssl req` → DER → base64, as a device's EST client sends it. */
    async function csr(subject: string, key?: string) {
      const n = counter++;
      const keyFile = key ?? path.join(dir, `k${n}.pem`);
      if (!key) await mustRun('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile]);
      const der = path.join(dir, `r${n}.der`);
      await mustRun('openssl', ['req', '-new', '-key', keyFile, '-subj', subject, '-outform', 'DER', '-out', der]);
      const b64 = path.join(dir, `r${n}.b64`);
      // openssl base64 breaks lines at 64 characters: RFC 8951 says the server must take that.
      fs.writeFileSync(b64, await mustRun('openssl', ['base64', '-in', der]));
      return { keyFile, b64 };
    }

    async function curl(op: string, options: { body?: string; user?: string; cert?: string; key?: string; type?: string; method?: string } = {}) {
      const args = ['-sS', '--cacert', rootFile, '-o', '-', '-D', path.join(dir, 'headers.txt'), '-w', '\n%{http_code}'];
      if (options.user) args.push('-u', options.user);
      if (options.cert) args.push('--cert', options.cert, '--key', options.key!);
      if (options.body) args.push('-H', `Content-Type: ${options.type ?? 'application/pkcs10'}`, '--data-binary', `@${options.body}`);
      if (options.method) args.push('-X', options.method);
      args.push(`${base}/${op}`);
      const r = await run('curl', args);
      const cut = r.stdout.lastIndexOf('\n');
      return { status: Number(r.stdout.slice(cut + 1)), body: r.stdout.slice(0, cut), headers: fs.readFileSync(path.join(dir, 'headers.txt'), 'utf8') };
    }

    /** base64 certs-only PKCS#7 → PEM certificates, through openssl. */
    async function certificatesIn(b64: string): Promise<string> {
      const file = path.join(dir, `p7-${counter++}.b64`);
      fs.writeFileSync(file, b64);
      await mustRun('openssl', ['base64', '-d', '-in', file, '-out', `${file}.der`]);
      return mustRun('openssl', ['pkcs7', '-inform', 'DER', '-in', `${file}.der`, '-print_certs']);
    }

    async function newToken(device: string, label?: string) {
      const r = await hallmark(cliEnvironment, 'token', 'create', '--device', device, ...(label ? ['--label', label] : []), '--json');
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout);
      assert.equal(out.device, device);
      assert.ok(out.expiresAt);
      return out.secret as string;
    }

    const count = async () => Number((await sql(hm.ctx.store)('certificates').count({ n: '*' }))[0]!.n);

    test('cacerts: no authentication, base64 certs-only PKCS#7 with the chain', async () => {
      const r = await curl('cacerts');
      assert.equal(r.status, 200);
      // Exactly the RFC 7030 media type: no charset parameter on a base64 body.
      assert.match(r.headers, /content-type: application\/pkcs7-mime; smime-type=certs-only\r?\n/i);
      assert.match(r.headers, /content-transfer-encoding: base64/i);
      const pem = await certificatesIn(r.body);
      assert.match(pem, /subject=CN ?= ?Hallmark Issuing CA 1/);
      assert.match(pem, /subject=CN ?= ?Hallmark Root CA/);
    });

    test('cacerts is kept between requests, yet follows the links: one recorded elsewhere appears within the poll interval, and leaves when it expires', async () => {
      await curl('cacerts');
      // A link certificate written behind the server's back (another instance's root rollover), valid 6 s.
      const key = path.join(dir, 'link.key');
      const cert = path.join(dir, 'link.pem');
      await mustRun('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=Test Link Certificate', '-days', '1']);
      const der = Buffer.from(fs.readFileSync(cert, 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64');
      const notAfter = Date.now() + 6000;
      await sql(hm.ctx.store)('certificates').insert({ serial: 'ee01', issuer: 'root', profile: 'link', identity: null, subject: 'CN=Test Link Certificate', status: 'active', not_before: Date.now() - 1000, not_after: notAfter, key_type: 'ec-p256', requested_by: 'test', created_at: Date.now(), issued_at: Date.now(), der });
      const pollMs = 2000; // the default status poll (revocation.ocsp.pollSeconds)
      const written = Date.now();
      let seenAfter = -1;
      while (Date.now() - written < pollMs + 1500) {
        if ((await certificatesIn((await curl('cacerts')).body)).includes('Test Link Certificate')) {
          seenAfter = Date.now() - written;
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(seenAfter >= 0, 'the link never appeared in cacerts');
      // Once it has expired, the very next answer leaves it out (the kept answer lasts until its first link expires).
      await new Promise((r) => setTimeout(r, Math.max(0, notAfter - Date.now()) + 50));
      const after = await certificatesIn((await curl('cacerts')).body);
      assert.doesNotMatch(after, /Test Link Certificate/);
      assert.match(after, /subject=CN ?= ?Hallmark Root CA/);
      await sql(hm.ctx.store)('certificates').where({ serial: 'ee01' }).del();
    });

    test('simpleenroll with a one-time secret; the second use is refused', async () => {
      const secret = await newToken('dev-est-1');
      const request = await csr('/CN=dev-est-1');
      const before = await count();
      const r = await curl('simpleenroll', { body: request.b64, user: `dev-est-1:${secret}` });
      assert.equal(r.status, 200, r.body);
      const pem = await certificatesIn(r.body);
      const certFile = path.join(dir, 'dev-est-1.pem');
      fs.writeFileSync(certFile, pem);
      const issuing = path.join(dir, 'issuing.pem');
      fs.writeFileSync(issuing, await certificatesIn((await curl('cacerts')).body));
      await mustRun('openssl', ['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', rootFile, '-untrusted', issuing, certFile]);
      assert.equal(await count(), before + 1);
      const again = await curl('simpleenroll', { body: (await csr('/CN=dev-est-1')).b64, user: `dev-est-1:${secret}` });
      assert.equal(again.status, 403);
      assert.match(again.body, /already used/);
      assert.equal(await count(), before + 1);
    });

    test('missing credentials: 401 with a Basic challenge; a CSR for another device: 403; nothing written', async () => {
      const before = await count();
      const none = await curl('simpleenroll', { body: (await csr('/CN=dev-x')).b64 });
      assert.equal(none.status, 401);
      assert.match(none.headers, /www-authenticate: Basic realm="hallmark-est"/i);
      const secret = await newToken('dev-est-2');
      const other = await curl('simpleenroll', { body: (await csr('/CN=dev-somebody-else')).b64, user: `dev-est-2:${secret}` });
      assert.equal(other.status, 403);
      assert.match(other.body, /names "dev-somebody-else"/);
      const wrong = await curl('simpleenroll', { body: (await csr('/CN=dev-est-2')).b64, user: 'dev-est-2:not-the-secret' });
      assert.equal(wrong.status, 401);
      assert.equal(await count(), before);
      // The refused attempts did not use up the secret.
      assert.equal((await curl('simpleenroll', { body: (await csr('/CN=dev-est-2')).b64, user: `dev-est-2:${secret}` })).status, 200);
    });

    test('bad input: wrong content type, not base64, a broken signature, an unknown label — 4xx, nothing written', async () => {
      const secret = await newToken('dev-est-3');
      const good = await csr('/CN=dev-est-3');
      const before = await count();
      assert.equal((await curl('simpleenroll', { body: good.b64, user: `dev-est-3:${secret}`, type: 'application/json' })).status, 415);
      const junk = path.join(dir, 'junk.b64');
      fs.writeFileSync(junk, 'this is not base64 !!!');
      const notBase64 = await curl('simpleenroll', { body: junk, user: `dev-est-3:${secret}` });
      assert.equal(notBase64.status, 400);
      assert.match(notBase64.body, /not base64/);
      const der = Buffer.from(fs.readFileSync(good.b64, 'utf8').replace(/\s/g, ''), 'base64');
      der[der.length - 3] ^= 1;
      const broken = path.join(dir, 'broken.b64');
      fs.writeFileSync(broken, der.toString('base64'));
      const bad = await curl('simpleenroll', { body: broken, user: `dev-est-3:${secret}` });
      assert.equal(bad.status, 400);
      assert.match(bad.body, /signature/);
      assert.equal((await curl('nowhere/simpleenroll', { body: good.b64, user: `dev-est-3:${secret}` })).status, 404);
      assert.equal((await curl('nowhere/cacerts')).status, 404);
      assert.equal(await count(), before);
      assert.equal((await curl('simpleenroll', { body: good.b64, user: `dev-est-3:${secret}` })).status, 200, 'and the server keeps serving');
    });

    test('every EST answer has the request log line, the security headers and a request id; oversize bodies 413, other methods 405', async () => {
      const r = await curl('cacerts');
      assert.match(r.headers, /strict-transport-security: max-age=31536000/i);
      assert.match(r.headers, /x-content-type-options: nosniff/i);
      assert.match(r.headers, /cache-control: no-store/i);
      const requestId = /x-request-id: (\S+)/i.exec(r.headers)?.[1];
      assert.ok(requestId);
      // Written when the server's response finishes, which can come after the client has it.
      const find = () => hm.log.map((l) => { try { return JSON.parse(l); } catch { return {}; } }).find((l) => l.requestId === requestId);
      for (let i = 0; i < 50 && !find(); i++) await new Promise((r) => setTimeout(r, 20));
      const line = find();
      assert.deepEqual({ method: line?.method, path: line?.path, status: line?.status, outcome: line?.outcome }, { method: 'GET', path: '/.well-known/est/cacerts', status: 200, outcome: 'success' });
      const before = await count();
      const big = path.join(dir, 'big.b64');
      fs.writeFileSync(big, 'A'.repeat(70_000));
      const oversize = await curl('simpleenroll', { body: big, user: 'dev-big:secret' });
      assert.equal(oversize.status, 413);
      assert.match(oversize.body, /larger than this route accepts/);
      const put = await curl('simpleenroll', { method: 'PUT' });
      assert.equal(put.status, 405);
      // RFC 9110 §15.5.6: the methods this operation takes.
      assert.match(put.headers, /allow: POST\r?\n/i);
      assert.equal((await curl('cacerts', { body: big, method: 'POST' })).status, 413, 'the body limit comes first');
      const small = path.join(dir, 'small.b64');
      fs.writeFileSync(small, 'AAAA');
      const postCacerts = await curl('cacerts', { body: small });
      assert.equal(postCacerts.status, 405);
      assert.match(postCacerts.body, /cacerts takes GET or HEAD/);
      assert.match(postCacerts.headers, /allow: GET, HEAD/i);
      assert.equal((await curl('made-up-op', { body: small })).status, 404);
      assert.equal(await count(), before);
      // The latency metric names known operations only: made-up paths share one label.
      const text = await mustRun('curl', ['-sSf', `http://127.0.0.1:${hm.running.http}/metrics`]);
      assert.match(text, /hallmark_enrollment_duration_seconds_count\{[^}]*operation="est:unknown"/);
      assert.doesNotMatch(text, /made-up-op/);
    });

    test('a label binds a secret: a secret for "sensors" enrolls there, not on the default label', async () => {
      const secret = await newToken('sensor-1', 'sensors');
      const request = await csr('/CN=sensor-1');
      assert.equal((await curl('simpleenroll', { body: request.b64, user: `sensor-1:${secret}` })).status, 403);
      assert.equal((await curl('sensors/simpleenroll', { body: request.b64, user: `sensor-1:${secret}` })).status, 200);
    });

    test('bootstrap: a manufacturer (IDevID) certificate enrolls its own device id only', async () => {
      const idevid = { key: path.join(dir, 'idevid.key'), csr: path.join(dir, 'idevid.csr'), cert: path.join(dir, 'idevid.pem') };
      await mustRun('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', idevid.key, '-out', idevid.csr, '-subj', '/CN=dev-boot-1/O=Acme']);
      await mustRun('openssl', ['x509', '-req', '-in', idevid.csr, '-CA', manufacturer.cert, '-CAkey', manufacturer.key, '-CAcreateserial', '-out', idevid.cert, '-days', '30']);
      const r = await curl('simpleenroll', { body: (await csr('/CN=dev-boot-1')).b64, cert: idevid.cert, key: idevid.key });
      assert.equal(r.status, 200, r.body);
      assert.match(await certificatesIn(r.body), /subject=CN ?= ?dev-boot-1/);
      const other = await curl('simpleenroll', { body: (await csr('/CN=dev-boot-2')).b64, cert: idevid.cert, key: idevid.key });
      assert.equal(other.status, 403);
      // The "sensors" label takes secrets only.
      assert.equal((await curl('sensors/simpleenroll', { body: (await csr('/CN=dev-boot-1')).b64, cert: idevid.cert, key: idevid.key })).status, 401);
    });

    test('simplereenroll over mTLS: same key, then a new key; the old one is superseded and later revoked; a revoked one cannot renew', async () => {
      const secret = await newToken('dev-renew');
      const first = await csr('/CN=dev-renew');
      const enrolled = await curl('simpleenroll', { body: first.b64, user: `dev-renew:${secret}` });
      const certFile = path.join(dir, 'renew-1.pem');
      fs.writeFileSync(certFile, await certificatesIn(enrolled.body));
      const subject = '/CN=dev-renew/O=Hallmark Devices';
      const sameKey = await curl('simplereenroll', { body: (await csr(subject, first.keyFile)).b64, cert: certFile, key: first.keyFile });
      assert.equal(sameKey.status, 200, sameKey.body);
      const secondFile = path.join(dir, 'renew-2.pem');
      fs.writeFileSync(secondFile, await certificatesIn(sameKey.body));
      const oldSerial = (await mustRun('openssl', ['x509', '-in', certFile, '-noout', '-serial'])).split('=')[1]!.trim().toLowerCase();
      const old = await sql(hm.ctx.store)('certificates').where({ serial: oldSerial }).first();
      assert.ok(old.superseded_by, 'the old certificate is marked superseded');
      assert.equal((await curl('simplereenroll', { body: (await csr(subject, first.keyFile)).b64, cert: certFile, key: first.keyFile })).status, 403, 'a superseded certificate cannot renew again');

      const rekey = await csr(subject);
      const rekeyed = await curl('simplereenroll', { body: rekey.b64, cert: secondFile, key: first.keyFile });
      assert.equal(rekeyed.status, 200, rekeyed.body);
      const thirdFile = path.join(dir, 'renew-3.pem');
      fs.writeFileSync(thirdFile, await certificatesIn(rekeyed.body));
      const pub = async (args: string[]) => mustRun('openssl', args);
      assert.equal(await pub(['x509', '-in', thirdFile, '-noout', '-pubkey']), await pub(['pkey', '-in', rekey.keyFile, '-pubout']));

      const wrongSubject = await curl('simplereenroll', { body: (await csr('/CN=dev-renew', rekey.keyFile)).b64, cert: thirdFile, key: rekey.keyFile });
      assert.equal(wrongSubject.status, 400);
      assert.match(wrongSubject.body, /keep the subject/);

      // Policy: superseded certificates are revoked after the grace period.
      const later = { ...hm.running.revocation, clock: { now: () => new Date(Date.now() + 25 * 3_600_000) } };
      assert.ok((await revokeSuperseded(later, { fromFraction: 0, revokeSupersededAfterHours: 24 })) >= 1);
      assert.equal((await sql(hm.ctx.store)('certificates').where({ serial: oldSerial }).first()).revocation_reason, 'superseded');

      const thirdSerial = (await mustRun('openssl', ['x509', '-in', thirdFile, '-noout', '-serial'])).split('=')[1]!.trim().toLowerCase();
      assert.equal((await hm.request('POST', `certificates/${thirdSerial}/revoke`, { token: hm.init.admin.apiKey, body: { reason: 'keyCompromise' } })).status, 200);
      const revoked = await curl('simplereenroll', { body: (await csr(subject, rekey.keyFile)).b64, cert: thirdFile, key: rekey.keyFile });
      assert.equal(revoked.status, 403);
      assert.match(revoked.body, /revoked/);
    });

    test('csrattrs: DER naming the curve and signature algorithm, parsed by openssl', async () => {
      const r = await curl('csrattrs');
      assert.equal(r.status, 200);
      assert.match(r.headers, /content-type: application\/csrattrs\r?\n/i);
      const file = path.join(dir, 'attrs.b64');
      fs.writeFileSync(file, r.body);
      await mustRun('openssl', ['base64', '-d', '-in', file, '-out', `${file}.der`]);
      const parsed = await mustRun('openssl', ['asn1parse', '-inform', 'DER', '-in', `${file}.der`]);
      assert.match(parsed, /ecdsa-with-SHA256/);
      assert.match(parsed, /id-ecPublicKey/);
      assert.match(parsed, /prime256v1/);
    });

    test('serverkeygen: multipart key + certificate; the key matches and is stored nowhere', async () => {
      const secret = await newToken('dev-keygen');
      const before = JSON.stringify(await sql(hm.ctx.store)('certificates').select('*'));
      const r = await curl('serverkeygen', { body: (await csr('/CN=dev-keygen')).b64, user: `dev-keygen:${secret}` });
      assert.equal(r.status, 200, r.body);
      assert.match(r.headers, /content-type: multipart\/mixed; boundary=[^\s;]+\r?\n/i);
      const boundary = /boundary=([^\s;]+)/.exec(r.headers)![1]!;
      const parts = r.body.split(`--${boundary}`).slice(1, -1);
      assert.equal(parts.length, 2);
      const [keyPart, certPart] = parts.map((p) => p.split('\r\n\r\n'));
      assert.match(keyPart![0]!, /Content-Type: application\/pkcs8/);
      assert.match(certPart![0]!, /Content-Type: application\/pkcs7-mime; smime-type=certs-only/);
      const keyFile = path.join(dir, 'keygen.key');
      fs.writeFileSync(`${keyFile}.b64`, keyPart![1]!);
      await mustRun('openssl', ['base64', '-d', '-in', `${keyFile}.b64`, '-out', `${keyFile}.der`]);
      await mustRun('openssl', ['pkey', '-inform', 'DER', '-in', `${keyFile}.der`, '-out', keyFile]);
      const certFile = path.join(dir, 'keygen.pem');
      fs.writeFileSync(certFile, await certificatesIn(certPart![1]!));
      assert.equal(await mustRun('openssl', ['x509', '-in', certFile, '-noout', '-pubkey']), await mustRun('openssl', ['pkey', '-in', keyFile, '-pubout']));
      // The private scalar (inside the PKCS#8) must appear in no table, as bytes, hex or base64.
      const scalar = Buffer.from((await mustRun('openssl', ['pkey', '-in', keyFile, '-noout', '-text'])).split('pub:')[0]!.split('priv:')[1]!.replace(/[\s:]/g, ''), 'hex');
      assert.equal(scalar.length, 32);
      const forms = [scalar.toString('hex'), scalar.toString('base64').slice(0, 40)];
      for (const table of ['certificates', 'audit_events', 'audit_pending', 'enrollment_tokens', 'settings']) {
        for (const row of await sql(hm.ctx.store)(table).select('*')) {
          for (const value of Object.values(row)) {
            if (Buffer.isBuffer(value)) assert.equal(value.indexOf(scalar), -1, `${table} holds the private key`);
            else if (typeof value === 'string') assert.ok(forms.every((f) => !value.includes(f)), `${table} holds the private key`);
          }
        }
      }
      assert.notEqual(before, JSON.stringify(await sql(hm.ctx.store)('certificates').select('*')));
      assert.ok(await sql(await sequenced(hm.ctx.store))('audit_events').where({ action: 'certificate.serverkeygen' }).first());
    });

    test('REST twins: POST /api/v1/enroll with a secret, POST /api/v1/renew with the client certificate', async () => {
      const secret = await newToken('dev-rest');
      const request = await csr('/CN=dev-rest');
      const pem = await mustRun('openssl', ['req', '-inform', 'DER', '-in', request.b64.replace('.b64', '.der')]);
      const enrolled = await hm.request('POST', 'enroll', { body: { device: 'dev-rest', secret, csr: pem } });
      assert.equal(enrolled.status, 201, enrolled.body);
      const { certificate, serial } = enrolled.json();
      assert.equal((await hm.request('POST', 'enroll', { body: { device: 'dev-rest', secret, csr: pem } })).status, 403);
      const renewCsr = await mustRun('openssl', ['req', '-new', '-key', request.keyFile, '-subj', '/CN=dev-rest/O=Hallmark Devices']);
      const renewed = await hm.request('POST', 'renew', { body: { csr: renewCsr }, cert: certificate, key: fs.readFileSync(request.keyFile, 'utf8') });
      assert.equal(renewed.status, 201, renewed.body);
      assert.notEqual(renewed.json().serial, serial);
    });
  });
}
