import { sql } from '../src/store/handle.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { BACKENDS, urlWithSchema } from './helpers/backends.js';
import { configCopy, startInProcess, writeChainFiles, type InProcessHallmark } from './helpers/in-process.js';
import { opensslCsr } from './helpers/csr.js';
import { foreignCa } from './helpers/openssl-ca.js';
import { mustRun, run } from './helpers/run.js';
import { hallmark } from './helpers/cli.js';
import { issueCertificate } from '../src/ca/issue.js';
import { sequenced } from './helpers/sequenced.js';

let home: TestHome;
before(async () => {
  home = await makeTestHome(['rev-sqlite', 'rev-postgres']);
});
after(() => home?.cleanup());

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  const token = `rev-${backend.name}`;
  describe(`revocation, CRL and OCSP on ${backend.name}`, () => {
    let hm: InProcessHallmark;
    let dir: string;
    let chainFile: string;
    let rootFile: string;
    let issuingFile: string;
    let ocspUrl: string;
    let admin: string;

    before(async () => {
      const configFile = configCopy(path.join(home.home, `config-${backend.name}`), (c) => {
        c.revocation = { crl: { validityHours: 24, refreshAfterHours: 12, coalesceMs: 200 }, ocsp: { validityMinutes: 60, refreshBeforeMinutes: 10, pollSeconds: 1 } };
      });
      hm = await startInProcess(home, backend, token, { configFile });
      admin = hm.init.admin.apiKey;
      dir = fs.mkdtempSync(path.join(home.home, 'rev-'));
      ({ rootFile, issuingFile, chainFile } = writeChainFiles(hm, dir));
      ocspUrl = `http://127.0.0.1:${hm.running.http}/ocsp`;
    });
    after(async () => {
      await hm?.close();
      await backend.cleanup();
    });

    async function device(id: string) {
      const { csrPem, keyFile } = await opensslCsr(dir);
      const issued = await issueCertificate(hm.running.issue, { csr: csrPem, profile: 'device', identity: id, requester: { kind: 'cli' as const }, actor: 'test' });
      const file = path.join(dir, `${id}.pem`);
      fs.writeFileSync(file, issued.certificate);
      return { ...issued, file, keyFile };
    }

    /** `openssl ocsp` as a relying party runs it: verifies the response against the CA chain. */
    async function ocsp(certFiles: string[], extra: string[] = []) {
      const result = await run('openssl', ['ocsp', '-issuer', issuingFile, ...certFiles.flatMap((c) => ['-cert', c]), '-url', ocspUrl, '-CAfile', chainFile, ...extra]);
      return { out: result.stdout + result.stderr, code: result.code };
    }

    async function fetchCrl(): Promise<{ file: string; pem: string; number: number }> {
      const der = path.join(dir, `crl-${Date.now()}.der`);
      await mustRun('curl', ['-sSf', '-o', der, `http://127.0.0.1:${hm.running.http}/crl/issuing.crl`]);
      const pem = der.replace(/\.der$/, '.pem');
      await mustRun('openssl', ['crl', '-inform', 'DER', '-in', der, '-out', pem]);
      const text = await mustRun('openssl', ['crl', '-in', pem, '-noout', '-crlnumber']);
      return { file: pem, pem: fs.readFileSync(pem, 'utf8'), number: parseInt(text.split('=')[1]!.trim(), 16) };
    }

    /** Waits until the served CRL's number is above `after` (regeneration is coalesced and asynchronous). */
    async function nextCrl(after: number) {
      for (let i = 0; i < 50; i++) {
        const crl = await fetchCrl();
        if (crl.number > after) return crl;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('no new CRL was published');
    }

    test('openssl ocsp: good, with a nonce and without, and the GET form', async () => {
      const dev = await device('ocsp-good');
      const withNonce = await ocsp([dev.file]);
      assert.match(withNonce.out, /Response verify OK/);
      assert.match(withNonce.out, new RegExp(`${dev.file}: good`));
      assert.doesNotMatch(withNonce.out, /WARNING: no nonce/);
      const noNonce = await ocsp([dev.file], ['-no_nonce']);
      assert.match(noNonce.out, /Response verify OK/);
      assert.match(noNonce.out, /: good/);

      const reqFile = path.join(dir, 'req.der');
      await mustRun('openssl', ['ocsp', '-issuer', issuingFile, '-cert', dev.file, '-no_nonce', '-reqout', reqFile]);
      const encoded = encodeURIComponent(fs.readFileSync(reqFile).toString('base64'));
      const respFile = path.join(dir, 'resp.der');
      const headers = await mustRun('curl', ['-sS', '-D', '-', '-o', respFile, `http://127.0.0.1:${hm.running.http}/ocsp/${encoded}`]);
      assert.match(headers, /content-type: application\/ocsp-response/i);
      assert.match(headers, /cache-control: max-age=\d+, public, no-transform, must-revalidate/i);
      assert.match(headers, /expires: /i);
      const verified = await run('openssl', ['ocsp', '-respin', respFile, '-reqin', reqFile, '-issuer', issuingFile, '-cert', dev.file, '-CAfile', chainFile, '-no_nonce']);
      assert.match(verified.stdout + verified.stderr, /Response verify OK/);
      assert.match(verified.stdout + verified.stderr, /: good/);
    });

    test('the responder certificate is delegated: OCSPSigning, ocsp-nocheck, key on the token', async () => {
      const dev = await device('ocsp-responder');
      const text = (await ocsp([dev.file], ['-resp_text'])).out;
      assert.match(text, /Extended Key Usage:\s+OCSP Signing/);
      assert.match(text, /OCSP No Check/);
      assert.match(text, /Issuer: CN\s?=\s?Hallmark Issuing CA 1/);
      const responder = hm.running.issue.issuers.get('issuing');
      assert.ok(responder);
      const row = await sql(hm.ctx.store)('ocsp_responders').where({ ca: 'issuing' }).first();
      const protection = await hm.ctx.keys!.describeProtection((await import('../src/keys/key-uri.js')).parseKeyUri(row.key_uri));
      assert.equal(protection.extractable, false);
      assert.equal(protection.sensitive, true);
    });

    test('revoked with its reason at once after a REST revocation; the CRL follows and openssl verify rejects it', async () => {
      const dev = await device('revoke-me');
      const other = await device('keep-me');
      assert.match((await ocsp([dev.file], ['-no_nonce'])).out, /: good/, 'good first (and now cached)');
      const before = (await fetchCrl()).number;
      const invalidity = new Date(Date.now() - 3_600_000);
      const revoked = await hm.request('POST', `certificates/${dev.serial}/revoke`, { token: admin, body: { reason: 'keyCompromise', invalidityDate: invalidity.toISOString() } });
      assert.equal(revoked.status, 200, revoked.body);
      const after = await ocsp([dev.file], ['-no_nonce']);
      assert.match(after.out, /Response verify OK/);
      assert.match(after.out, /: revoked/);
      assert.match(after.out, /Reason: keyCompromise/);

      const crl = await nextCrl(before);
      await mustRun('openssl', ['crl', '-in', crl.file, '-CAfile', chainFile, '-noout']);
      const text = await mustRun('openssl', ['crl', '-in', crl.file, '-noout', '-text']);
      assert.match(text, /Version 2/);
      assert.match(text, new RegExp(`Serial Number: ${dev.serial.toUpperCase()}[\\s\\S]*?Key Compromise[\\s\\S]*?Invalidity Date`));
      assert.match(text, /Authority Key Identifier/);
      const rejected = await run('openssl', ['verify', '-crl_check', '-CRLfile', crl.file, '-CAfile', rootFile, '-untrusted', issuingFile, dev.file]);
      assert.notEqual(rejected.code, 0);
      assert.match(rejected.stdout + rejected.stderr, /certificate revoked/);
      await mustRun('openssl', ['verify', '-crl_check', '-CRLfile', crl.file, '-CAfile', rootFile, '-untrusted', issuingFile, other.file]);

      const again = await hm.request('POST', `certificates/${dev.serial}/revoke`, { token: admin, body: { reason: 'superseded' } });
      assert.equal(again.status, 409);
      assert.match(again.body, /already revoked/);
      const unknown = await hm.request('POST', 'certificates/0abc/revoke', { token: admin, body: { reason: 'superseded' } });
      assert.equal(unknown.status, 404);
      const badReason = await hm.request('POST', `certificates/${other.serial}/revoke`, { token: admin, body: { reason: 'becauseISaidSo' } });
      assert.equal(badReason.status, 400);
      assert.match(badReason.body, /keyCompromise/);
      const audit = await sql(await sequenced(hm.ctx.store))('audit_events').where({ action: 'certificate.revoke', target: dev.serial }).first();
      assert.match(audit.details, /keyCompromise/);
      assert.ok(await sql(await sequenced(hm.ctx.store))('audit_events').where({ action: 'crl.generate' }).first());
    });

    test('certificateHold and its release', async () => {
      const dev = await device('on-hold');
      const before = (await fetchCrl()).number;
      assert.equal((await hm.request('POST', `certificates/${dev.serial}/revoke`, { token: admin, body: { reason: 'certificateHold' } })).status, 200);
      assert.match((await ocsp([dev.file], ['-no_nonce'])).out, /: revoked[\s\S]*Reason: certificateHold/);
      const held = await nextCrl(before);
      assert.match(await mustRun('openssl', ['crl', '-in', held.file, '-noout', '-text']), new RegExp(`${dev.serial.toUpperCase()}[\\s\\S]*?Certificate Hold`));
      const released = await hm.request('POST', `certificates/${dev.serial}/release`, { token: admin });
      assert.equal(released.status, 200, released.body);
      assert.match((await ocsp([dev.file], ['-no_nonce'])).out, /: good/);
      const after = await nextCrl(held.number);
      assert.doesNotMatch(await mustRun('openssl', ['crl', '-in', after.file, '-noout', '-text']), new RegExp(dev.serial.toUpperCase()));
      const notHeld = await hm.request('POST', `certificates/${dev.serial}/release`, { token: admin });
      assert.equal(notHeld.status, 409);
    });

    test('a revocation by the CLI (another process) reaches this instance\'s OCSP and CRL within seconds', async () => {
      const dev = await device('cli-revoked');
      assert.match((await ocsp([dev.file], ['-no_nonce'])).out, /: good/);
      const before = (await fetchCrl()).number;
      const env: NodeJS.ProcessEnv = { ...home.env, HALLMARK_HOME: path.join(home.home, `data-${token}`), HALLMARK_PKCS11_TOKEN: token };
      if (backend.url) env.DATABASE_URL = urlWithSchema(backend);
      const cli = await hallmark(env, 'cert', 'revoke', dev.serial.toUpperCase().match(/../g)!.join(':'), '--reason', 'CessationOfOperation', '--json');
      assert.equal(cli.code, 0, cli.stderr);
      let status = '';
      for (let i = 0; i < 50 && !/: revoked/.test(status); i++) {
        await new Promise((r) => setTimeout(r, 100));
        status = (await ocsp([dev.file], ['-no_nonce'])).out;
      }
      assert.match(status, /: revoked[\s\S]*Reason: cessationOfOperation/, hm.log.join('\n'));
      const crl = await nextCrl(before);
      assert.match(await mustRun('openssl', ['crl', '-in', crl.file, '-noout', '-text']), new RegExp(dev.serial.toUpperCase()));
    });

    test('several certificates in one request; an issuer that is not ours is unauthorized', async () => {
      const a = await device('multi-a');
      const b = await device('multi-b');
      const both = await ocsp([a.file, b.file]);
      assert.match(both.out, /Response verify OK/);
      assert.match(both.out, new RegExp(`${a.file}: good[\\s\\S]*${b.file}: good`));
      const foreign = await foreignCa(dir);
      const result = await run('openssl', ['ocsp', '-issuer', foreign.ca.cert, '-cert', foreign.leaf.cert, '-url', ocspUrl, '-CAfile', foreign.ca.cert]);
      assert.match(result.stdout + result.stderr, /Responder Error: unauthorized \(6\)/);
    });

    test('garbage, truncated DER, an oversize body and a wrong content type: OCSP errors or 4xx, and the server keeps answering', async () => {
      const reqFile = path.join(dir, 'good-req.der');
      const dev = await device('hostile');
      await mustRun('openssl', ['ocsp', '-issuer', issuingFile, '-cert', dev.file, '-reqout', reqFile]);
      const good = fs.readFileSync(reqFile);
      const post = (body: Buffer, type = 'application/ocsp-request') =>
        new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
          const req = http.request({ host: '127.0.0.1', port: hm.running.http, path: '/ocsp', method: 'POST', headers: { 'content-type': type, 'content-length': body.length } }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks) }));
          });
          req.on('error', reject);
          req.end(body);
        });
      const malformed = Buffer.from('3003 0a01 01'.replace(/ /g, ''), 'hex');
      for (const garbage of [Buffer.from('hello OCSP'), good.subarray(0, good.length - 7), Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), Buffer.alloc(0)]) {
        const r = await post(garbage);
        assert.equal(r.status, 200);
        assert.deepEqual(r.body, malformed, 'malformedRequest');
      }
      assert.equal((await post(Buffer.alloc(20_000, 0x30))).status, 413);
      assert.equal((await post(good, 'text/plain')).status, 415);
      const longNonce = await run('openssl', ['ocsp', '-issuer', issuingFile, '-cert', dev.file, '-url', ocspUrl, '-CAfile', chainFile, '-nonce']);
      assert.match(longNonce.stdout + longNonce.stderr, /: good/);
      const getGarbage = await run('curl', ['-sS', '-o', '-', `http://127.0.0.1:${hm.running.http}/ocsp/%%%`]);
      assert.deepEqual(Buffer.from(getGarbage.stdout, 'latin1'), malformed);
      const wrongMethod = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${hm.running.http}/ocsp`]);
      assert.equal(wrongMethod.stdout, '405');
      const still = (await ocsp([dev.file])).out;
      assert.match(still, /Response verify OK/, 'still answering');
      assert.match(still, /: good/, 'still answering');
    });

    test('a CRL of 25,000 entries spans several pages and verifies with openssl', async () => {
      const now = Date.now();
      const rows = Array.from({ length: 25_000 }, (_, i) => ({
        serial: (0x3000000000000000n + BigInt(i)).toString(16).padStart(32, '0'),
        issuer: 'issuing',
        profile: 'device',
        identity: `bulk-${i}`,
        subject: `CN=bulk-${i}`,
        status: 'revoked',
        not_before: now - 1000,
        not_after: now + 86_400_000,
        key_type: 'ec-p256',
        requested_by: 'test',
        created_at: now,
        revoked_at: Math.floor(now / 1000) * 1000,
        revocation_reason: i % 2 ? 'superseded' : 'unspecified',
        status_changed_at: now,
      }));
      // An expired revoked certificate is left off the CRL (RFC 5280 §3.3).
      rows.push({ ...rows[0]!, serial: '2fffffffffffffff', identity: 'expired', not_after: now - 1000 });
      await sql(hm.ctx.store).batchInsert('certificates', rows, 400);
      const { generateCrl } = await import('../src/ca/crl.js');
      const { crlDeps } = await import('../src/app/context.js');
      const row = await generateCrl(crlDeps(hm.ctx, hm.running.issue.issuers), { ca: 'issuing', shard: null }, 'test');
      const revokedBefore = Number((await sql(hm.ctx.store)('certificates').where({ issuer: 'issuing', status: 'revoked' }).where('not_after', '>', now).count({ n: '*' }))[0]!.n);
      assert.equal(row.entries, revokedBefore);
      const file = path.join(dir, 'big.crl');
      fs.writeFileSync(file, row.der);
      await mustRun('openssl', ['crl', '-inform', 'DER', '-in', file, '-CAfile', chainFile, '-noout']);
      const text = await mustRun('openssl', ['crl', '-inform', 'DER', '-in', file, '-noout', '-text']);
      assert.equal(text.match(/Serial Number:/g)?.length, revokedBefore);
      assert.doesNotMatch(text, /2FFFFFFFFFFFFFFF/);
    });

    test('the CRL is served with cache headers matching nextUpdate, and the CLI signs one on demand', async () => {
      const headers = await mustRun('curl', ['-sS', '-D', '-', '-o', '/dev/null', `http://127.0.0.1:${hm.running.http}/crl/issuing.crl`]);
      assert.match(headers, /content-type: application\/pkix-crl/i);
      const maxAge = Number(/max-age=(\d+)/.exec(headers)![1]);
      assert.ok(maxAge > 23 * 3600 - 120 && maxAge <= 24 * 3600, `max-age ${maxAge}`);
      assert.match(headers, /expires: /i);
      assert.match(headers, /etag: "issuing-\d+"/i);
      const env: NodeJS.ProcessEnv = { ...home.env, HALLMARK_HOME: path.join(home.home, `data-${token}`), HALLMARK_PKCS11_TOKEN: token };
      if (backend.url) env.DATABASE_URL = urlWithSchema(backend);
      const out = path.join(dir, 'ondemand.pem');
      const before = (await fetchCrl()).number;
      const generated = await hallmark(env, 'crl', 'generate', '--ca', 'issuing', '--out', out, '--json');
      assert.equal(generated.code, 0, generated.stderr);
      assert.ok(JSON.parse(generated.stdout)[0].number > before);
      assert.match(fs.readFileSync(out, 'utf8'), /^-----BEGIN X509 CRL-----/);
      await mustRun('openssl', ['crl', '-in', out, '-CAfile', chainFile, '-noout']);
      const root = path.join(dir, 'root.crl');
      await mustRun('curl', ['-sSf', '-o', root, `http://127.0.0.1:${hm.running.http}/crl/root.crl`]);
      await mustRun('openssl', ['crl', '-inform', 'DER', '-in', root, '-CAfile', rootFile, '-noout']);
    });
  });
}
