import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { BACKENDS } from './helpers/backends.js';
import { opensslCsr } from './helpers/csr.js';
import { cliEnv, hallmark, hallmarkJson } from './helpers/cli.js';
import { configCopy, startInProcess } from './helpers/in-process.js';
import { freePort } from './helpers/ports.js';
import { run } from './helpers/run.js';
import { CLI } from './helpers/paths.js';

let home: TestHome;
before(async () => {
  home = await makeTestHome(['fh-sqlite', 'fh-postgres', 'fh-url', 'fh-url-ok']);
});
after(() => home?.cleanup());

/** `GET` on the plain-HTTP listener. */
const getJson = (port: number, p: string) =>
  new Promise<{ status: number; body: any }>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: p }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    }).on('error', reject);
  });

describe('a home that is not there', () => {
  test('read-only commands refuse, say where they looked and what to do, and create nothing', async () => {
    const missing = path.join(home.home, 'nowhere', 'data');
    for (const args of [['ca', 'list'], ['status'], ['cert', 'list'], ['device', 'list']]) {
      const r = await hallmark({ ...home.env, HALLMARK_HOME: missing }, ...args);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`no Hallmark CA in HALLMARK_HOME=${missing.replace(/[/.]/g, '\\$&')}: nothing was created`));
      assert.match(r.stderr, /hallmark init/);
    }
    assert.equal(fs.existsSync(path.join(home.home, 'nowhere')), false);
    // Unset, the default is named as such.
    const env = { ...home.env };
    delete env.HALLMARK_HOME;
    const cwd = fs.mkdtempSync(path.join(home.home, 'cwd-'));
    const r = await run('node', [CLI, 'ca', 'list'], { env, cwd });
    assert.match(r.stderr, /\(HALLMARK_HOME is not set, so \.\/data\)/);
    assert.deepEqual(fs.readdirSync(cwd), []);
  });
});

describe('output a person can trust', () => {
  test('a closed pipe ends the command quietly (`hallmark help | true`, `cert list | head`)', async () => {
    const r = await run('bash', ['-c', `set -o pipefail; node ${CLI} help | true; echo "status=\${PIPESTATUS[0]}"`]);
    assert.match(r.stdout, /status=0/);
    assert.equal(r.stderr, '', 'no EPIPE stack trace');
  });

  test('help per command shows its examples, one verb only its own; zsh completion loads', async () => {
    const token = await hallmark(home.env, 'token', '--help');
    assert.match(token.stdout, /examples:\n {2}hallmark token create --device dev-0002/);
    const create = await hallmark(home.env, 'token', 'create', '--help');
    assert.match(create.stdout, /hallmark token create --lot <lot> --count <n>/);
    assert.doesNotMatch(create.stdout, /token list --lot/);
    const zsh = await hallmark(home.env, 'completion', 'zsh');
    assert.match(zsh.stdout, /bashcompinit/);
    assert.match(zsh.stdout, /"token create"\) COMPREPLY=\( \$\(compgen -W "[^"]*--count/);
    const fish = await hallmark(home.env, 'completion', 'fish');
    assert.equal(fish.code, 2);
  });
});

for (const backendOf of BACKENDS) {
  describe(`first-hour verbs on ${backendOf().name}`, () => {
    const backend = backendOf();
    const label = `fh-${backend.name}`;
    let hm: Awaited<ReturnType<typeof startInProcess>>;
    let env: NodeJS.ProcessEnv;
    before(async () => {
      hm = await startInProcess(home, backend, label);
      env = await cliEnv(home, backend, label);
    });
    after(async () => {
      await hm?.close();
      await backend.cleanup();
    });

    test('--out that cannot be written is refused before anything is issued', async () => {
      const { csrFile } = await opensslCsr(home.home, { subject: '/CN=x' });
      const before = (await hallmarkJson<unknown[]>(env, 'cert', 'list')).length;
      const r = await hallmark(env, 'cert', 'issue', '--csr', csrFile, '--profile', 'device', '--device', 'out-1', '--out', path.join(home.home, 'no-such-dir', 'x.pem'));
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /^hallmark: --out .*x\.pem: the directory .*no-such-dir does not exist \(create it first\)\n$/);
      assert.equal((await hallmarkJson<unknown[]>(env, 'cert', 'list')).length, before);
    });

    test('ca show names the signature algorithm; status keeps self-renewing service certificates apart', async () => {
      const ca = await hallmarkJson(env, 'ca', 'show', 'issuing');
      assert.equal(ca.signatureAlgorithm, 'ecdsa-with-SHA384');
    });

    test('token: a lot at once as CSV, listed, one revoked by id, the rest by lot; a revoked secret cannot enroll', async () => {
      const bad = await hallmark(env, 'token', 'create', '--device', 'has space');
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /device id "has space" does not match profile "device"/);
      const file = path.join(home.home, `lot-${backend.name}.csv`);
      const made = await hallmark(env, 'token', 'create', '--lot', 'LOT7', '--count', '3', '--out', file);
      assert.equal(made.code, 0, made.stderr);
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
      assert.equal(lines[0], 'device,secret,id,label,expiresAt');
      assert.deepEqual(lines.slice(1).map((l) => l.split(',')[0]), ['LOT7-0001', 'LOT7-0002', 'LOT7-0003']);
      const again = await hallmark(env, 'token', 'create', '--lot', 'LOT7', '--count', '3');
      assert.equal(again.code, 1);
      assert.match(again.stderr, /lot "LOT7" has secrets already/);
      const listed = await hallmarkJson<{ id: string; device: string; state: string }[]>(env, 'token', 'list', '--lot', 'LOT7');
      assert.deepEqual(listed.map((t) => t.state), ['unused', 'unused', 'unused']);
      assert.ok(!JSON.stringify(listed).includes(lines[1]!.split(',')[1]!), 'secrets are never listed');

      const [device, secret, id] = lines[1]!.split(',') as [string, string, string];
      assert.equal((await hallmark(env, 'token', 'revoke', id)).code, 0);
      const { csrPem } = await opensslCsr(home.home, { subject: `/CN=${device}` });
      const b64 = csrPem.replace(/-----[A-Z ]+-----|\s/g, '');
      const refused = await hm.request('POST', '/.well-known/est/simpleenroll', { rawBody: b64, contentType: 'application/pkcs10', headers: { authorization: `Basic ${Buffer.from(`${device}:${secret}`).toString('base64')}` } });
      assert.equal(refused.status, 403, refused.body);
      assert.match(refused.body, /enrollment secret was revoked/);

      const [device2, secret2] = lines[2]!.split(',') as [string, string];
      const { csrPem: csr2 } = await opensslCsr(home.home, { subject: `/CN=${device2}` });
      const enrolled = await hm.request('POST', '/.well-known/est/simpleenroll', { rawBody: csr2.replace(/-----[A-Z ]+-----|\s/g, ''), contentType: 'application/pkcs10', headers: { authorization: `Basic ${Buffer.from(`${device2}:${secret2}`).toString('base64')}` } });
      assert.equal(enrolled.status, 200, enrolled.body);

      const lot = await hallmarkJson<{ revoked: number }>(env, 'token', 'revoke', '--lot', 'LOT7');
      assert.equal(lot.revoked, 1, 'only the one neither used nor revoked');
      const states = (await hallmarkJson<{ device: string; state: string }[]>(env, 'token', 'list', '--lot', 'LOT7')).map((t) => `${t.device}:${t.state}`).sort();
      assert.deepEqual(states, ['LOT7-0001:revoked', 'LOT7-0002:used', 'LOT7-0003:revoked']);
      assert.equal((await hallmark(env, 'token', 'revoke', '--lot', 'LOT7')).code, 1);
    });

    test('operator passwd and reset-totp: new credentials, sessions closed, both audited', async () => {
      const pw = path.join(home.home, `pw-${backend.name}`);
      fs.writeFileSync(pw, 'correct horse battery staple 1\n');
      assert.equal((await hallmark(env, 'operator', 'add', '--name', 'alice', '--role', 'operator', '--password-file', pw)).code, 0);
      fs.writeFileSync(pw, 'short\n');
      const weak = await hallmark(env, 'operator', 'passwd', 'alice', '--password-file', pw);
      assert.equal(weak.code, 1);
      assert.match(weak.stderr, /password refused/);
      fs.writeFileSync(pw, 'another long passphrase 2\n');
      assert.equal((await hallmark(env, 'operator', 'passwd', 'alice', '--password-file', pw)).code, 0);
      const reset = await hallmarkJson<{ otpauth: string }>(env, 'operator', 'reset-totp', 'alice');
      assert.match(reset.otpauth, /^otpauth:\/\/totp\/Hallmark:alice\?secret=/);
      const nobody = await hallmark(env, 'operator', 'reset-totp', 'bob');
      assert.equal(nobody.code, 1);
      assert.match(nobody.stderr, /no active operator "bob"/);
    });
  });
}

describe('a public URL that does not lead here', () => {
  test('serve warns at start and in /readyz (still ready); status says so; a matching URL is quiet', async () => {
    const backend = BACKENDS[0]!();
    const elsewhere = await freePort();
    const configFile = configCopy(path.join(home.home, 'cfg-elsewhere'), (c) => (c.publicBaseUrl = `http://127.0.0.1:${elsewhere}`));
    const hm = await startInProcess(home, backend, 'fh-url', { configFile });
    try {
      const warning = hm.log.find((l) => l.startsWith('WARNING: publicBaseUrl'));
      assert.ok(warning, hm.log.join('\n'));
      assert.match(warning!, new RegExp(`names port ${elsewhere} but the HTTP listener is on ${hm.running.http}`));
      const ready = await getJson(hm.running.http, '/readyz');
      assert.equal(ready.status, 200);
      assert.match(ready.body.warnings.publicUrl, /does not reach this server/);
      const env = { ...(await cliEnv(home, backend, 'fh-url')), HALLMARK_CONFIG: configFile };
      const status = await hallmarkJson(env, 'status');
      assert.equal(status.publicUrl.ok, false);
      assert.equal(status.certificates.expiringIn30Days, 0, 'responder and HTTPS certificates are not an operator\'s to renew');
      assert.ok(status.certificates.selfRenewingExpiringIn30Days >= 1);
    } finally {
      await hm.close();
    }
    const port = await freePort();
    const matching = configCopy(path.join(home.home, 'cfg-here'), (c) => (c.publicBaseUrl = `http://127.0.0.1:${port}`));
    const here = await startInProcess(home, BACKENDS[0]!(), 'fh-url-ok', { configFile: matching, httpPort: port });
    try {
      assert.ok(here.log.includes(`publicBaseUrl http://127.0.0.1:${port} reaches this CA`), here.log.join('\n'));
      assert.ok(!here.log.some((l) => l.startsWith('WARNING')));
      const ready = await getJson(port, '/readyz');
      assert.equal(ready.body.warnings, undefined);
      const status = await hallmarkJson({ ...(await cliEnv(home, BACKENDS[0]!(), 'fh-url-ok')), HALLMARK_CONFIG: matching }, 'status');
      assert.equal(status.publicUrl.ok, true, status.publicUrl.detail);
    } finally {
      await here.close();
    }
  });
});
