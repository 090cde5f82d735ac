import { sql } from '../src/store/handle.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { sqliteBackend, postgresBackend } from './helpers/backends.js';
import { configCopy, manualClock, startInProcess, type InProcessHallmark } from './helpers/in-process.js';
import { startWebhookReceiver } from './helpers/webhook.js';
import { opensslCsr } from './helpers/csr.js';
import { createApiKey } from '../src/auth/api-keys.js';
import { createOperator } from '../src/auth/operators.js';
import { totpCode, TOTP_STEP_SECONDS, hotp } from '../src/auth/totp.js';
import { issueCertificate } from '../src/ca/issue.js';
import { systemClock } from '../src/base/clock.js';
import { addStation } from '../src/factory/stations.js';
import { deviceCsrs } from './helpers/device-csrs.js';
import { sequenced } from './helpers/sequenced.js';

let home: TestHome;
before(async () => {
  home = await makeTestHome(['sec-sqlite', 'sec-postgres']);
});
after(() => home?.cleanup());

test('TOTP matches the RFC 6238 appendix B test vectors (SHA-1, 8 digits truncated to 6)', () => {
  const secret = Buffer.from('12345678901234567890');
  // RFC 6238 gives 94287082 at T=59 s and 07081804 at T=1111111109 s; six digits are the last six.
  assert.equal(hotp(secret, Math.floor(59 / TOTP_STEP_SECONDS)), '287082');
  assert.equal(hotp(secret, Math.floor(1111111109 / TOTP_STEP_SECONDS)), '081804');
  assert.equal(totpCode(secret, new Date(1234567890 * 1000)), '005924');
});

for (const [makeBackend, token] of [[sqliteBackend, 'sec-sqlite'], [postgresBackend, 'sec-postgres']] as const) {
  const backend = makeBackend();
  describe(`security plane on ${backend.name}`, () => {
    const clock = manualClock();
    let hm: InProcessHallmark;
    let adminKey: string;
    let totp: Uint8Array;
    const password = 'tangerine submarine 42';
    let webhook: Awaited<ReturnType<typeof startWebhookReceiver>>;

    before(async () => {
      webhook = await startWebhookReceiver();
      const configFile = configCopy(path.join(home.home, `config-${backend.name}`), (c) => {
        c.security.alerts.webhookUrl = webhook.url;
        c.security.alerts.authFailures = { threshold: 10, windowSeconds: 300, blockSeconds: 900 };
        c.security.alerts.revocationBurst = { threshold: 5, windowSeconds: 300 };
        c.security.rateLimits.auth = 1000;
      });
      hm = await startInProcess(home, backend, token, { configFile, clock });
      adminKey = hm.init.admin.apiKey;
      totp = (await createOperator(hm.ctx.store, hm.running.plane.sealer, { name: 'olga', role: 'admin', password, createdBy: 'test', now: clock.now() })).totpSecret;
    });
    after(async () => {
      await hm?.close();
      await webhook?.close();
      await backend.cleanup();
    });

    const login = (code = totpCode(totp, clock.now()), pw = password) => hm.request('POST', 'sessions', { body: { name: 'olga', password: pw, totp: code } });

    test('operator session: password + TOTP, idle timeout, rotation on refresh, replay refused, logout', async () => {
      const first = await login();
      assert.equal(first.status, 201, first.body);
      const { token: sessionToken, idleTimeoutSeconds } = first.json();
      assert.equal(idleTimeoutSeconds, 15 * 60);
      assert.equal((await login()).status, 401, 'the same TOTP code cannot be used twice');
      assert.equal((await hm.request('GET', 'whoami', { token: sessionToken })).json().kind, 'session');

      clock.advance(14 * 60_000);
      assert.equal((await hm.request('GET', 'whoami', { token: sessionToken })).status, 200, 'activity within the idle timeout');
      const refreshed = await hm.request('POST', 'sessions/refresh', { token: sessionToken });
      assert.equal(refreshed.status, 201);
      const rotated = refreshed.json().token;
      assert.notEqual(rotated, sessionToken);
      assert.equal((await hm.request('GET', 'whoami', { token: sessionToken })).status, 401, 'the old token stops working');
      clock.advance(16 * 60_000);
      const idle = await hm.request('GET', 'whoami', { token: rotated });
      assert.equal(idle.status, 401);
      assert.match(idle.body, /session is idle/);

      clock.advance(TOTP_STEP_SECONDS * 1000);
      const again = (await login()).json().token;
      assert.equal((await hm.request('DELETE', 'sessions/current', { token: again })).status, 204);
      assert.equal((await hm.request('GET', 'whoami', { token: again })).status, 401);

      clock.advance(TOTP_STEP_SECONDS * 1000);
      assert.equal((await login(undefined, 'wrong password!!')).status, 401, 'a wrong password with a right code');
      clock.advance(TOTP_STEP_SECONDS * 1000);
      assert.equal((await login('000000')).status, 401, 'a right password with a wrong code');
    });

    test('high-impact operations need a session or an explicitly scoped key', async () => {
      const plain = await hm.request('POST', 'apikeys', { token: adminKey, body: { role: 'read-only' } });
      assert.equal(plain.status, 403);
      assert.match(plain.body, /high-impact/);
      clock.advance(TOTP_STEP_SECONDS * 1000);
      const session = (await login()).json().token;
      // A change to credentials: the session sends the authenticator's next code (test/management.test.ts).
      clock.advance(TOTP_STEP_SECONDS * 1000);
      const viaSession = await hm.request('POST', 'apikeys', { token: session, headers: { 'x-hallmark-totp': totpCode(totp, clock.now()) }, body: { role: 'read-only', label: 'dashboards', expiresInDays: 30 } });
      assert.equal(viaSession.status, 201, viaSession.body);
      assert.match(viaSession.json().apiKey, /^hmk_/);
      const scoped = await createApiKey(hm.ctx.store, { role: 'admin', scopes: ['apikey.manage', 'ca.read'], createdBy: 'test', now: clock.now() });
      // No escalation: a key creates keys no wider than itself.
      const wider = await hm.request('POST', 'apikeys', { token: scoped.apiKey, body: { role: 'operator' } });
      assert.equal(wider.status, 403, wider.body);
      assert.match(wider.json().error.message, /cannot grant more than it holds/);
      const viaScoped = await hm.request('POST', 'apikeys', { token: scoped.apiKey, body: { role: 'read-only', scopes: ['ca.read'] } });
      assert.equal(viaScoped.status, 201, viaScoped.body);
      const list = await hm.request('GET', 'apikeys', { token: scoped.apiKey });
      assert.ok(!list.body.includes('secret') && !list.body.includes(viaScoped.json().apiKey), 'listing never shows secrets or hashes');
      const id = viaSession.json().id;
      assert.equal((await hm.request('DELETE', `apikeys/${id}`, { token: scoped.apiKey })).status, 204);
      assert.equal((await hm.request('GET', 'cas', { token: viaSession.json().apiKey })).status, 401, 'a revoked key is refused');
      const expiringKey = (await hm.request('POST', 'apikeys', { token: scoped.apiKey, body: { role: 'read-only', scopes: ['ca.read'], expiresInDays: 1 } })).json().apiKey;
      assert.equal((await hm.request('GET', 'cas', { token: expiringKey })).status, 200);
      clock.advance(86_400_000 + 1000);
      const expired = await hm.request('GET', 'cas', { token: expiringKey });
      assert.equal(expired.status, 401);
      assert.match(expired.body, /expired/);
    });

    test('client certificates authenticate in the role their profile grants', async () => {
      const dir = fs.mkdtempSync(path.join(home.home, 'client-'));
      const issueTo = async (profile: string, identity: string) => {
        // A server certificate names a configured service name (the shipped tls-server profile's rule).
        const { csrPem, keyFile } = await opensslCsr(dir, profile === 'tls-server' ? { subject: '/CN=localhost' } : {});
        // Issued on real time: the TLS stack checks validity against the real clock, not the test's.
        const issued = await issueCertificate({ ...hm.running.issue, clock: systemClock }, { csr: csrPem, profile, identity, requester: { kind: 'cli' as const }, actor: 'test' });
        return { cert: issued.certificate + issued.chain.join(''), key: fs.readFileSync(keyFile, 'utf8'), serial: issued.serial };
      };
      const operator = await issueTo('operator', 'carol');
      const who = await hm.request('GET', 'whoami', operator);
      assert.equal(who.status, 200, who.body);
      assert.deepEqual({ kind: who.json().kind, role: who.json().role, name: who.json().name }, { kind: 'certificate', role: 'operator', name: 'carol' });
      assert.equal((await hm.request('GET', 'certificates', operator)).status, 200);
      assert.equal((await hm.request('GET', 'apikeys', operator)).status, 403);
      const device = await issueTo('device', 'dev-cert-1');
      assert.equal((await hm.request('GET', 'whoami', device)).json().role, 'device');
      assert.equal((await hm.request('GET', 'certificates', device)).status, 403);
      // A certificate whose record says it is no longer active is refused even though it chains.
      await sql(hm.ctx.store)('certificates').where({ serial: device.serial }).update({ status: 'revoked' });
      const refused = await hm.request('GET', 'whoami', device);
      assert.equal(refused.status, 401);
      assert.match(refused.body, /client certificate is revoked/);
      // A tls-server certificate chains but grants no role.
      const server = await issueTo('tls-server', 'x');
      assert.equal((await hm.request('GET', 'whoami', server)).status, 401);
    });

    test('20 failed logins from one source raise an alert to the webhook, then 429 with Retry-After', async () => {
      clock.advance(301_000); // earlier tests' failures fall out of the window
      const statuses: number[] = [];
      let retryAfter: string | undefined;
      for (let i = 0; i < 20; i++) {
        // Half claim another address: with no trusted proxy, X-Forwarded-For must change nothing.
        const headers = i % 2 ? { 'x-forwarded-for': `203.0.113.${i}` } : undefined;
        const r = await hm.request('POST', 'sessions', { body: { name: 'olga', password: 'guess number ' + i, totp: '123456' }, headers });
        statuses.push(r.status);
        if (r.status === 429) retryAfter = String(r.headers['retry-after']);
      }
      assert.deepEqual(statuses.slice(0, 10), Array(10).fill(401));
      assert.deepEqual(statuses.slice(10), Array(10).fill(429));
      assert.ok(Number(retryAfter) > 0 && Number(retryAfter) <= 900);
      const alert = await webhook.waitFor((a) => a.rule === 'auth-failures' && a.details.source === '127.0.0.1');
      assert.equal(alert.type, 'hallmark.alert');
      assert.equal(alert.contentType, 'application/json');
      assert.match(alert.message, /10 authentication failures for operator:olga from 127\.0\.0\.1/);
      // The block is on that account from that address: other credentials from the same address (a
      // factory's stations behind one NAT address) go on working.
      assert.equal((await hm.request('GET', 'cas', { token: adminKey })).status, 200);
      clock.advance(901_000);
      const after = await hm.request('POST', 'sessions', { body: { name: 'olga', password: 'still wrong', totp: '123456' } });
      assert.equal(after.status, 401, 'the block ends');
      const audited = await sql(await sequenced(hm.ctx.store))('audit_events').where({ action: 'alert', target: 'auth-failures' }).first();
      assert.ok(audited, 'the alert is in the audit log too');
    });

    test('anomalies: a burst of revocations and a station far above its usual rate raise one alert each', async () => {
      const serials: string[] = [];
      for (let i = 0; i < 6; i++) {
        const { csrPem } = await opensslCsr(path.join(home.home));
        const r = await hm.request('POST', 'certificates', { token: adminKey, body: { csr: csrPem, profile: 'device', device: `burst-${backend.name}-${i}` } });
        assert.equal(r.status, 201, r.body);
        serials.push(r.json().serial);
      }
      const revoke = async (serial: string) => assert.equal((await hm.request('POST', `certificates/${serial}/revoke`, { token: adminKey, body: { reason: 'keyCompromise' } })).status, 200);
      for (const serial of serials.slice(0, 4)) await revoke(serial);
      await hm.running.plane.alerts.flush();
      assert.equal(webhook.received.filter((a) => a.rule === 'revocation-burst').length, 0, 'four revocations: under the threshold of five');
      await revoke(serials[4]!);
      const burst = await webhook.waitFor((a) => a.rule === 'revocation-burst');
      assert.match(burst.message, /^5 certificate\.revoke events within 300s$/);
      await revoke(serials[5]!);
      await hm.running.plane.alerts.flush();
      assert.equal(webhook.received.filter((a) => a.rule === 'revocation-burst').length, 1, 'one alert per window');

      // A new station with no history provisions 200 devices (the rule's minimum) in one batch.
      const station = await addStation({ store: hm.ctx.store, audit: hm.ctx.audit, issue: hm.running.issue }, { name: `st-rate-${backend.name}`, line: 'line-r', profiles: ['device'], quotaPerHour: 10_000, actor: 'test', dir: home.home });
      const ids = Array.from({ length: 200 }, (_, i) => `RATE-${backend.name}-${i}`);
      const csrs = await deviceCsrs(ids.length, (i) => ids[i]!);
      const batch = await hm.request('POST', 'factory/provision/batch', {
        token: station.apiKey,
        body: { devices: ids.map((id, i) => ({ deviceSerial: id, model: 'm', lot: 'l', firmwareVersion: '1', csr: csrs[i]!.csr })) },
      });
      assert.equal(batch.status, 200, batch.body);
      const rate = await webhook.waitFor((a) => a.rule === 'station-rate' && a.details.station === station.name);
      assert.equal(rate.details.last10Minutes, 200);
      await hm.running.plane.alerts.flush();
      assert.ok(await sql(await sequenced(hm.ctx.store))('audit_events').where({ action: 'alert', target: 'station-rate' }).first(), 'audited');
    });

    test('expiry warnings and hourly/daily summaries reach the webhook once, whichever instance runs them', async () => {
      const issuing = hm.running.issue.issuers.get('issuing');
      clock.set(new Date(issuing.notAfter.getTime() - 10 * 86_400_000));
      await hm.running.periodic();
      await hm.running.plane.alerts.flush();
      const expiry = await webhook.waitFor((a) => a.rule === 'certificate-expiry' && a.details.what === 'CA issuing');
      assert.equal(expiry.severity, 'warning');
      const before = webhook.received.length;
      await hm.running.periodic();
      await hm.running.plane.alerts.flush();
      assert.equal(webhook.received.filter((a) => a.rule === 'certificate-expiry' && a.details.what === 'CA issuing').length, 1, 'not again the same day');
      clock.advance(3_600_000 + 1000);
      await hm.running.periodic();
      await hm.running.plane.alerts.flush();
      const hourly = await webhook.waitFor((a) => a.rule === 'summary-hourly');
      assert.equal(typeof hourly.details.failedApiCalls, 'number');
      assert.ok(webhook.received.length > before);
    });

    test('rate limit on the login route: 429 with Retry-After past the configured rate', async () => {
      // A separate address would be needed to escape the earlier block; the limiter itself is checked in isolation.
      const { rateLimit } = await import('../src/http/rate-limit.js');
      const limiter = rateLimit('authentication', 3, clock);
      const results: number[] = [];
      for (let i = 0; i < 5; i++) {
        let status = 200;
        const res = { set() {}, status(s: number) { status = s; return { json() {} }; } } as never;
        limiter({ ip: '192.0.2.1' } as never, res, () => {});
        results.push(status);
      }
      assert.deepEqual(results, [200, 200, 200, 429, 429]);
    });

  });
}
