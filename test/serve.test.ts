import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { BACKENDS } from './helpers/backends.js';
import { opensslCsr } from './helpers/csr.js';
import { cliEnv, hallmarkJson } from './helpers/cli.js';
import { mustRun, run } from './helpers/run.js';
import { startServer, type RunningServer } from './helpers/server.js';

let home: TestHome;
before(async () => {
  home = await makeTestHome(['hallmark-sqlite', 'hallmark-postgres']);
});
after(() => home?.cleanup());

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`hallmark serve on ${backend.name}`, () => {
    let server: RunningServer;
    let apiKey: string;
    let dir: string;
    let rootFile: string;
    let issuingFile: string;
    let base: string;

    let env: NodeJS.ProcessEnv;
    before(async () => {
      env = await cliEnv(home, backend, `hallmark-${backend.name}`);
      apiKey = (await hallmarkJson(env, 'init')).admin.apiKey;
      dir = path.join(home.home, `serve-${backend.name}`);
      fs.mkdirSync(dir);
      rootFile = path.join(dir, 'root.pem');
      issuingFile = path.join(dir, 'issuing.pem');
      server = await startServer(env);
      base = `https://localhost:${server.https}/api/v1`;
      const rootDer = path.join(dir, 'root.der');
      await mustRun('curl', ['-sSf', '-o', rootDer, `http://127.0.0.1:${server.http}/ca/root.crt`]);
      await mustRun('openssl', ['x509', '-inform', 'DER', '-in', rootDer, '-out', rootFile]);
      await mustRun('curl', ['-sSf', '-o', path.join(dir, 'issuing.der'), `http://127.0.0.1:${server.http}/ca/issuing.crt`]);
      await mustRun('openssl', ['x509', '-inform', 'DER', '-in', path.join(dir, 'issuing.der'), '-out', issuingFile]);
    });
    after(async () => {
      if (server) assert.equal(await server.stop(), 0, 'SIGTERM ends the server cleanly');
      // Nothing secret in the server's log.
      if (server) assert.ok(!server.log().includes(home.pin) && !server.log().includes(apiKey.slice('hmk_0123456789abcdef_'.length)));
      await backend.cleanup();
    });

    /** curl against the HTTPS listener, trusting only our root; returns status and body. */
    async function api(method: string, url: string, options: { body?: string; type?: string; key?: string | null } = {}) {
      const args = ['-sS', '--cacert', rootFile, '-X', method, '-o', '-', '-w', '\n%{http_code}', url];
      const key = options.key === undefined ? apiKey : options.key;
      if (key) args.push('-H', `Authorization: Bearer ${key}`);
      if (options.body !== undefined) args.push('-H', `Content-Type: ${options.type ?? 'application/json'}`, '--data-binary', '@-');
      const result = await run('curl', args, { input: options.body });
      assert.equal(result.code, 0, result.stderr);
      const cut = result.stdout.lastIndexOf('\n');
      const body = result.stdout.slice(0, cut);
      return { status: Number(result.stdout.slice(cut + 1)), body, json: () => JSON.parse(body) };
    }

    test('public listener: CA certificates as DER application/pkix-cert and health, no credentials', async () => {
      const head = await mustRun('curl', ['-sS', '-D', '-', '-o', '/dev/null', `http://127.0.0.1:${server.http}/ca/issuing.crt`]);
      assert.match(head, /^HTTP\/1\.1 200/);
      assert.match(head, /content-type: application\/pkix-cert/i);
      await mustRun('openssl', ['verify', '-x509_strict', '-CAfile', rootFile, issuingFile]);
      const health = await mustRun('curl', ['-sSf', `http://127.0.0.1:${server.http}/healthz`]);
      assert.deepEqual(JSON.parse(health), { status: 'ok' });
      const missing = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${server.http}/ca/nope.crt`]);
      assert.equal(missing.stdout, '404');
    });

    test('TLS: the server certificate is ours and covers localhost and 127.0.0.1; TLS 1.3 preferred, 1.1 refused', async () => {
      const byIp = await api('GET', `https://127.0.0.1:${server.https}/api/v1/cas`);
      assert.equal(byIp.status, 200);
      const s13 = await run('openssl', ['s_client', '-connect', `127.0.0.1:${server.https}`, '-CAfile', rootFile, '-verify_return_error', '-servername', 'localhost'], { input: '' });
      assert.match(s13.stdout, /New, TLSv1\.3, Cipher is/);
      assert.match(s13.stdout, /Verify return code: 0 \(ok\)/);
      const s12 = await run('openssl', ['s_client', '-connect', `127.0.0.1:${server.https}`, '-CAfile', rootFile, '-tls1_2'], { input: '' });
      assert.match(s12.stdout, /New, TLSv1\.2, Cipher is ECDHE-ECDSA-AES128-GCM-SHA256/);
      const s11 = await run('openssl', ['s_client', '-connect', `127.0.0.1:${server.https}`, '-tls1_1'], { input: '' });
      assert.notEqual(s11.code, 0);
      assert.doesNotMatch(s11.stdout, /Cipher is ECDHE/);
      // GnuTLS, a second independent TLS stack, verifies the chain and hostname too.
      const gnutls = await run('gnutls-cli', ['--x509cafile', rootFile, '--port', String(server.https), 'localhost'], { input: '' });
      assert.match(gnutls.stdout, /Handshake was completed/);
      assert.match(gnutls.stdout, /TLS1\.3/);
    });

    test('REST: issue a certificate from a CSR, then read it back', async () => {
      const { csrPem } = await opensslCsr(dir);
      const created = await api('POST', `${base}/certificates`, { body: JSON.stringify({ csr: csrPem, profile: 'device', device: 'rest-dev-1' }) });
      assert.equal(created.status, 201, created.body);
      const body = created.json();
      assert.match(body.serial, /^[0-9a-f]+$/);
      assert.equal(body.chain.length, 1);
      const certFile = path.join(dir, 'rest.pem');
      fs.writeFileSync(certFile, body.certificate);
      await mustRun('openssl', ['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', rootFile, '-untrusted', issuingFile, certFile]);
      const got = await api('GET', `${base}/certificates/${body.serial.toUpperCase()}`);
      assert.equal(got.status, 200);
      assert.equal(got.json().certificate, body.certificate);
      const list = await api('GET', `${base}/certificates?device=rest-dev-1`);
      assert.deepEqual(list.json().certificates.map((c: { serial: string }) => c.serial), [body.serial]);
    });

    const badRequests: [string, () => Promise<{ status: number; body: string }>, number, RegExp][] = [
      ['no credential', () => api('GET', `${base}/cas`, { key: null }), 401, /needs \\"Authorization: Bearer/],
      ['an unknown API key', () => api('GET', `${base}/cas`, { key: 'hmk_0123456789abcdef_' + 'A'.repeat(43) }), 401, /not valid/],
      ['a malformed API key', () => api('GET', `${base}/cas`, { key: 'letmein' }), 401, /malformed/],
      ['invalid JSON', () => api('POST', `${base}/certificates`, { body: '{"csr": ' }), 400, /"invalid_json"/],
      ['a wrong content type', () => api('POST', `${base}/certificates`, { body: 'csr=x', type: 'application/x-www-form-urlencoded' }), 415, /application\/json/],
      ['an oversize body', () => api('POST', `${base}/certificates`, { body: JSON.stringify({ csr: 'A'.repeat(200_000), profile: 'device' }) }), 413, /"body_too_large"/],
      ['an unknown field', () => api('POST', `${base}/certificates`, { body: JSON.stringify({ csr: 'x', profile: 'device', ca: true }) }), 400, /"invalid_request".*ca/],
      ['a CSR that is not base64', () => api('POST', `${base}/certificates`, { body: JSON.stringify({ csr: 'not a csr!', profile: 'device', device: 'd' }) }), 400, /"csr_invalid"/],
      ['an unknown serial', () => api('GET', `${base}/certificates/00ff`), 404, /"not_found"/],
      ['an unknown route', () => api('GET', `https://localhost:${server.https}/nope`), 404, /"not_found"/],
    ];
    for (const [what, send, status, message] of badRequests) {
      test(`REST refuses ${what} with ${status} and a reason, and keeps serving`, async () => {
        const before = await api('GET', `${base}/certificates?limit=1000`);
        const response = await send();
        assert.equal(response.status, status, response.body);
        assert.match(response.body, message);
        assert.match(response.body, /^\{"error":\{"code":"[a-z_]+","message":"[^"]+"/);
        const afterList = await api('GET', `${base}/certificates?limit=1000`);
        assert.equal(afterList.status, 200);
        assert.equal(afterList.json().certificates.length, before.json().certificates.length, 'nothing written');
      });
    }

    test('a 401 carries a Bearer challenge (RFC 6750)', async () => {
      const head = await mustRun('curl', ['-sS', '--cacert', rootFile, '-D', '-', '-o', '/dev/null', `${base}/cas`]);
      assert.match(head, /www-authenticate: Bearer realm="hallmark"/i);
    });

    test('a restart keeps the TLS certificate (it still covers every configured name)', async () => {
      const fingerprint = async () =>
        (await mustRun('bash', ['-c', `openssl s_client -connect 127.0.0.1:${server.https} </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256`])).trim();
      const first = await fingerprint();
      assert.equal(await server.stop(), 0);
      server = await startServer(env);
      base = `https://localhost:${server.https}/api/v1`;
      assert.equal(await fingerprint(), first);
    });
  });
}
