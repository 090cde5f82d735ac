import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { BACKENDS } from './helpers/backends.js';
import { manualClock, startInProcess, type InProcessHallmark } from './helpers/in-process.js';
import { opensslCsr } from './helpers/csr.js';
import { run } from './helpers/run.js';
import { createOperator } from '../src/auth/operators.js';
import { createApiKey } from '../src/auth/api-keys.js';
import { totpCode } from '../src/auth/totp.js';
import { fromBase32 } from './helpers/base32.js';
import { sql } from '../src/store/handle.js';
import { sequenced } from './helpers/sequenced.js';

/**
 * Credentials managed over REST (what the console's management pages call): stations, enrollment
 * secrets, API keys and operators. Every change that mints or removes a credential asks an operator
 * session for a fresh authenticator code (X-Hallmark-TOTP), accepted once; the server's clock is a
 * manual one here, so that each step can have its own code without waiting 30 s.
 */

let home: TestHome;
before(async () => {
  home = await makeTestHome(['manage-sqlite', 'manage-postgres']);
});
after(() => home?.cleanup());

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`managing credentials over REST, ${backend.name}`, () => {
    const clock = manualClock();
    let hm: InProcessHallmark;
    let secret: Uint8Array;
    let session: string;
    const password = 'admin has a long passphrase';
    /** The next authenticator code: the server's clock moves on a step first, so the code is fresh. */
    const freshCode = () => {
      clock.advance(30_000);
      return totpCode(secret, clock.now());
    };
    const asAdmin = (code?: string) => ({ token: session, headers: (code === undefined ? {} : { 'x-hallmark-totp': code }) as Record<string, string> });
    const audited = async (action: string) => sql(await sequenced(hm.ctx.store))('audit_events').where({ action }).orderBy('seq', 'desc').first();

    before(async () => {
      hm = await startInProcess(home, backend, `manage-${backend.name}`, { clock });
      const op = await createOperator(hm.ctx.store, hm.running.plane.sealer, { name: 'ada', role: 'admin', password, createdBy: 'test', now: clock.now() });
      secret = op.totpSecret;
      const login = await hm.request('POST', 'sessions', { body: { name: 'ada', password, totp: totpCode(secret, clock.now()) } });
      assert.equal(login.status, 201, login.body);
      session = login.json().token;
    });
    after(async () => {
      await hm?.close();
      await backend.cleanup();
    });

    // First, while the manual clock is still near the real one: TLS checks the station certificate's
    // validity against the real time (notBefore is backdated 60 s).
    test('a station registered over REST gets working credentials in the answer; disabling it ends both', async () => {
      const made = await hm.request('POST', 'stations', { ...asAdmin(freshCode()), body: { name: 'st-rest', line: 'line-r', quotaPerHour: 100 } });
      assert.equal(made.status, 201, made.body);
      const station = made.json();
      assert.match(station.privateKey, /^-----BEGIN PRIVATE KEY-----/);
      const dir = fs.mkdtempSync(path.join(home.home, `station-${backend.name}-`));
      const provision = async (credential: { token?: string; cert?: string; key?: string }, serial: string) => {
        const { csrPem } = await opensslCsr(dir, { subject: `/CN=${serial}` });
        return hm.request('POST', 'factory/provision', { ...credential, body: { deviceSerial: serial, model: 'M', lot: 'L', firmwareVersion: '1', csr: csrPem } });
      };
      const byKey = await provision({ token: station.apiKey }, 'ST-REST-1');
      assert.equal(byKey.status, 201, byKey.body);
      assert.equal((await provision({ cert: station.certificate, key: station.privateKey }, 'ST-REST-2')).status, 201);
      assert.equal((await hm.request('POST', 'stations/st-rest/disable', asAdmin())).json().error?.code, 'fresh_totp_required');
      assert.equal((await hm.request('POST', 'stations/st-rest/disable', asAdmin(freshCode()))).status, 200);
      await hm.running.poll();
      assert.equal((await provision({ token: station.apiKey }, 'ST-REST-3')).status, 401);
    });

    test('a session needs a fresh code for each high-impact change: missing, wrong and reused codes are refused and audited; API keys are not asked', async () => {
      const body = { role: 'read-only', label: 'step-up', expiresInDays: 1 };
      const none = await hm.request('POST', 'apikeys', { ...asAdmin(), body });
      assert.equal(none.status, 403, none.body);
      assert.equal(none.json().error.code, 'fresh_totp_required');
      const wrong = await hm.request('POST', 'apikeys', { ...asAdmin('000000'), body });
      assert.equal(wrong.status, 403);
      assert.equal(wrong.json().error.code, 'fresh_totp_refused');
      assert.match((await audited('auth.failure'))?.details ?? '', /fresh authenticator code not accepted/);
      // The sign-in's own code is used up: the same step is refused.
      const signInCode = await hm.request('POST', 'apikeys', { ...asAdmin(totpCode(secret, clock.now())), body });
      assert.equal(signInCode.json().error?.code, 'fresh_totp_refused', signInCode.body);
      assert.equal(await sql(hm.ctx.store)('api_keys').where({ label: 'step-up' }).count({ n: '*' }).then((r) => Number(r[0]!.n)), 0, 'nothing was made');

      const code = freshCode();
      const made = await hm.request('POST', 'apikeys', { ...asAdmin(code), body });
      assert.equal(made.status, 201, made.body);
      const replay = await hm.request('DELETE', `apikeys/${made.json().id}`, asAdmin(code));
      assert.equal(replay.json().error?.code, 'fresh_totp_refused', 'a code is accepted once');
      assert.equal((await hm.request('DELETE', `apikeys/${made.json().id}`, asAdmin(freshCode()))).status, 204);

      // A key scoped for the permission is a machine's, with no second factor to ask for.
      const scoped = await createApiKey(hm.ctx.store, { role: 'admin', scopes: ['apikey.manage'], createdBy: 'test', now: clock.now() });
      assert.equal((await hm.request('POST', 'apikeys', { token: scoped.apiKey, body: { role: 'admin', label: 'by-key' } })).status, 403, 'still no wider than itself');
      assert.equal((await hm.request('POST', 'apikeys', { token: scoped.apiKey, body: { role: 'admin', scopes: ['apikey.manage'], label: 'by-key' } })).status, 201);
    });

    test('operators: created with their authenticator shown once, who then sign in; a new authenticator ends the old one; disabled ends their sessions; nobody disables themselves', async () => {
      const weak = await hm.request('POST', 'operators', { ...asAdmin(freshCode()), body: { name: 'nia', role: 'operator', password: 'short' } });
      assert.equal(weak.status, 400);
      assert.match(weak.json().error.message, /12 characters/);
      const made = await hm.request('POST', 'operators', { ...asAdmin(freshCode()), body: { name: 'nia', role: 'operator', password: 'nia has a long passphrase' } });
      assert.equal(made.status, 201, made.body);
      assert.equal(made.headers['cache-control'], 'no-store');
      assert.match(made.json().otpauth, /^otpauth:\/\/totp\/Hallmark:nia\?secret=/);
      assert.ok(!JSON.stringify(await sql(await sequenced(hm.ctx.store))('audit_events').where({ action: 'operator.create' })).includes(made.json().totpSecret), 'the seed is not in the audit log');
      const niaSecret = fromBase32(made.json().totpSecret);
      const niaLogin = await hm.request('POST', 'sessions', { body: { name: 'nia', password: 'nia has a long passphrase', totp: totpCode(niaSecret, clock.now()) } });
      assert.equal(niaLogin.status, 201, niaLogin.body);
      // An operator (not admin) cannot see or make operators.
      assert.equal((await hm.request('GET', 'operators', { token: niaLogin.json().token })).status, 403);

      const reset = await hm.request('POST', 'operators/nia/reset-totp', asAdmin(freshCode()));
      assert.equal(reset.status, 200, reset.body);
      assert.notEqual(reset.json().totpSecret, made.json().totpSecret);
      assert.equal((await hm.request('GET', 'whoami', { token: niaLogin.json().token })).status, 401, 'her sessions ended');
      clock.advance(30_000);
      const oldCode = await hm.request('POST', 'sessions', { body: { name: 'nia', password: 'nia has a long passphrase', totp: totpCode(niaSecret, clock.now()) } });
      assert.equal(oldCode.status, 401, 'the old authenticator no longer works');

      const self = await hm.request('POST', 'operators/ada/disable', asAdmin(freshCode()));
      assert.equal(self.status, 409);
      const disabled = await hm.request('POST', 'operators/nia/disable', asAdmin(freshCode()));
      assert.equal(disabled.status, 200, disabled.body);
      const listed = (await hm.request('GET', 'operators', asAdmin())).json().operators;
      assert.deepEqual(listed.map((o: { name: string; state: string }) => `${o.name}:${o.state}`), ['ada:active', 'nia:disabled']);
      assert.equal((await audited('operator.disable'))?.actor, 'session:ada');
    });

    test('enrollment secrets: a lot as CSV or JSON, shown once, listed without secrets; one enrolls over EST with curl; the lot revoked', async () => {
      const dir = fs.mkdtempSync(path.join(home.home, `tokens-${backend.name}-`));
      const csv = await hm.request('POST', 'tokens', { token: session, headers: { 'x-hallmark-totp': freshCode(), accept: 'text/csv' }, body: { lot: 'L9', count: 3, expiresInHours: 2 } });
      assert.equal(csv.status, 201, csv.body);
      assert.match(String(csv.headers['content-type']), /^text\/csv/);
      assert.match(String(csv.headers['content-disposition']), /^attachment; filename="?L9-secrets\.csv"?$/);
      const lines = csv.body.trim().split('\n');
      assert.equal(lines[0], 'device,secret,id,label,expiresAt');
      assert.deepEqual(lines.slice(1).map((l) => l.split(',')[0]), ['L9-0001', 'L9-0002', 'L9-0003']);
      const again = await hm.request('POST', 'tokens', { ...asAdmin(freshCode()), body: { lot: 'L9', count: 1 } });
      assert.equal(again.status, 409, 'a lot gets its secrets once');
      const badId = await hm.request('POST', 'tokens', { ...asAdmin(freshCode()), body: { device: 'has space' } });
      assert.equal(badId.status, 400);
      assert.match(badId.json().error.message, /does not match profile "device"/);

      const listed = await hm.request('GET', 'tokens?lot=L9', asAdmin());
      assert.deepEqual(listed.json().tokens.map((t: { state: string }) => t.state), ['unused', 'unused', 'unused']);
      assert.ok(!listed.body.includes(lines[1]!.split(',')[1]!), 'secrets are never listed');

      // curl enrolls L9-0002 over EST with its secret: a client nobody here wrote.
      const [device, deviceSecret] = lines[2]!.split(',') as [string, string];
      const { csrPem } = await opensslCsr(dir, { subject: `/CN=${device}` });
      fs.writeFileSync(path.join(dir, 'root.pem'), hm.rootPem);
      fs.writeFileSync(path.join(dir, 'csr.b64'), csrPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''));
      const enrolled = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', path.join(dir, 'root.pem'), '-u', `${device}:${deviceSecret}`, '-H', 'Content-Type: application/pkcs10', '--data-binary', `@${path.join(dir, 'csr.b64')}`, `https://localhost:${hm.running.https}/.well-known/est/simpleenroll`]);
      assert.equal(enrolled.stdout, '200', enrolled.stderr);

      const revoked = await hm.request('DELETE', 'token-lots/L9', asAdmin());
      assert.equal(revoked.status, 200, revoked.body);
      assert.equal(revoked.json().revoked, 2, 'the used one stays used');
      const states = (await hm.request('GET', 'tokens?lot=L9', asAdmin())).json().tokens.map((t: { device: string; state: string }) => `${t.device}:${t.state}`).sort();
      assert.deepEqual(states, ['L9-0001:revoked', 'L9-0002:used', 'L9-0003:revoked']);
      assert.equal((await hm.request('DELETE', 'token-lots/L9', asAdmin())).status, 404, 'nothing left to revoke');
    });

  });
}
