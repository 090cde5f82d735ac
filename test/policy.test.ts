import { sql } from '../src/store/handle.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { BACKENDS } from './helpers/backends.js';
import { configCopy, manualClock, startInProcess, type InProcessHallmark } from './helpers/in-process.js';
import { startWebhookReceiver } from './helpers/webhook.js';
import { cliEnv, hallmark, hallmarkJson } from './helpers/cli.js';
import { cnName, craftEcCsr, craftRsaCsr, extension, nameDer, rsaPrimes, sanDns } from './helpers/crafted-csr.js';
import { createApiKey } from '../src/auth/api-keys.js';
import { createOperator } from '../src/auth/operators.js';
import { createEnrollmentToken } from '../src/auth/enrollment-tokens.js';
import { totpCode, TOTP_STEP_SECONDS } from '../src/auth/totp.js';
import { issueCertificate } from '../src/ca/issue.js';
import { addStation } from '../src/factory/stations.js';
import { systemClock } from '../src/base/clock.js';
import { x509 } from '../src/x509/crypto-provider.js';
import { fromPemBlocks } from '../src/x509/pem.js';
import { SQLITE_FILE } from '../src/store/private-home.js';
import { sequenced } from './helpers/sequenced.js';

/**
 * Issue 24, "nobody obtains a certificate, key or role they were not granted": each finding as it was
 * reported, now refused, on SQLite and PostgreSQL; and the (profile × principal) matrix as a table.
 */

/** Who may obtain what over REST, written out independently of the profiles: 201 issued, 403 refused. */
const PRINCIPALS = ['adminSession', 'adminKey', 'authorityKey', 'operatorKey', 'operatorSession', 'readOnlyKey', 'stationKey', 'deviceCert'] as const;
type PrincipalName = (typeof PRINCIPALS)[number];
const ADMINS_ONLY: Record<PrincipalName, number> = { adminSession: 201, adminKey: 403, authorityKey: 201, operatorKey: 403, operatorSession: 403, readOnlyKey: 403, stationKey: 403, deviceCert: 403 };
const MATRIX: Record<string, Record<PrincipalName, number>> = {
  device: { adminSession: 201, adminKey: 201, authorityKey: 201, operatorKey: 201, operatorSession: 201, readOnlyKey: 403, stationKey: 403, deviceCert: 403 },
  operator: ADMINS_ONLY,
  station: ADMINS_ONLY,
  'tls-server': ADMINS_ONLY,
  // Hallmark certifies its own responders; nobody gets one over REST.
  'ocsp-signer': { adminSession: 403, adminKey: 403, authorityKey: 403, operatorKey: 403, operatorSession: 403, readOnlyKey: 403, stationKey: 403, deviceCert: 403 },
  // Firmware signers are made by the CLI, the time-stamping authority by Hallmark: never over REST.
  'firmware-signer': { adminSession: 403, adminKey: 403, authorityKey: 403, operatorKey: 403, operatorSession: 403, readOnlyKey: 403, stationKey: 403, deviceCert: 403 },
  tsa: { adminSession: 403, adminKey: 403, authorityKey: 403, operatorKey: 403, operatorSession: 403, readOnlyKey: 403, stationKey: 403, deviceCert: 403 },
  'cmp-responder': { adminSession: 403, adminKey: 403, authorityKey: 403, operatorKey: 403, operatorSession: 403, readOnlyKey: 403, stationKey: 403, deviceCert: 403 },
  'scep-ra': { adminSession: 403, adminKey: 403, authorityKey: 403, operatorKey: 403, operatorSession: 403, readOnlyKey: 403, stationKey: 403, deviceCert: 403 },
  // Only keys attested in a TPM (test/tpm-attestation.test.ts): no CSR obtains one, an admin's neither.
  'device-tpm': { adminSession: 403, adminKey: 403, authorityKey: 403, operatorKey: 403, operatorSession: 403, readOnlyKey: 403, stationKey: 403, deviceCert: 403 },
};

let home: TestHome;
before(async () => {
  home = await makeTestHome(['policy-sqlite', 'policy-postgres']);
});
after(() => home?.cleanup());

const DAY = 86_400_000;
const basic = (device: string, secret: string) => `Basic ${Buffer.from(`${device}:${secret}`).toString('base64')}`;
const derBody = (pem: string) => fromPemBlocks(pem, ['CERTIFICATE REQUEST'])[0]!;

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  const token = `policy-${backend.name}`;
  describe(`issuance policy and authentication accounting on ${backend.name}`, () => {
    const clock = manualClock();
    let hm: InProcessHallmark;
    let webhook: Awaited<ReturnType<typeof startWebhookReceiver>>;
    let dir: string;
    let seq = 0;
    const credentials = {} as Record<PrincipalName, { token?: string; cert?: string; key?: string }>;
    const password = 'lantern orchard 7 violet';
    const operators: Record<string, Uint8Array> = {};

    const login = (name: string, from?: string, pw = password, route = 'sessions') => hm.request('POST', route, { body: { name, password: pw, totp: totpCode(operators[name]!, clock.now()) }, localAddress: from });
    const issue = (who: { token?: string; cert?: string; key?: string }, body: Record<string, unknown>) => hm.request('POST', 'certificates', { ...who, body });
    const count = async (table: string) => Number((await sql(hm.ctx.store)(table).count({ n: '*' }))[0]!.n);

    before(async () => {
      webhook = await startWebhookReceiver();
      dir = fs.mkdtempSync(path.join(home.home, `policy-${backend.name}-`));
      const configFile = configCopy(path.join(dir, 'config'), (c) => {
        c.security.alerts.webhookUrl = webhook.url;
        c.security.alerts.authFailures = { threshold: 10, credentialThreshold: 30, windowSeconds: 300, blockSeconds: 900 };
        c.security.rateLimits = { auth: 1000, enrollment: 100000, provisioning: 100000 };
      });
      // An admin's own pattern for server names beyond the configured service names.
      const tlsProfile = path.join(dir, 'config', 'profiles', 'tls-server.yaml');
      const profile = YAML.parse(fs.readFileSync(tlsProfile, 'utf8'));
      profile.subjectAltName.fromCsr.dns = '^[a-z0-9-]+\\.svc\\.example\\.test$';
      fs.writeFileSync(tlsProfile, YAML.stringify(profile));
      hm = await startInProcess(home, backend, token, { configFile, clock });

      const now = clock.now();
      for (const [name, role] of [['ada', 'admin'], ['otto', 'operator'], ['victim', 'operator']] as const) {
        operators[name] = (await createOperator(hm.ctx.store, hm.running.plane.sealer, { name, role, password, createdBy: 'test', now })).totpSecret;
      }
      credentials.adminSession = { token: (await login('ada')).json().token };
      credentials.operatorSession = { token: (await login('otto')).json().token };
      credentials.adminKey = { token: (await createApiKey(hm.ctx.store, { role: 'admin', createdBy: 'test', now })).apiKey };
      credentials.authorityKey = { token: (await createApiKey(hm.ctx.store, { role: 'admin', scopes: ['cert.issue', 'cert.authority'], expiresAt: new Date(now.getTime() + DAY), createdBy: 'test', now })).apiKey };
      credentials.operatorKey = { token: (await createApiKey(hm.ctx.store, { role: 'operator', createdBy: 'test', now })).apiKey };
      credentials.readOnlyKey = { token: (await createApiKey(hm.ctx.store, { role: 'read-only', createdBy: 'test', now })).apiKey };
      credentials.stationKey = { token: (await createApiKey(hm.ctx.store, { role: 'station', createdBy: 'test', now })).apiKey };
      // Issued on real time: the TLS stack checks validity against the real clock.
      const deviceKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const device = await issueCertificate({ ...hm.running.issue, clock: systemClock }, { csr: craftEcCsr({ key: deviceKey }), profile: 'device', identity: 'matrix-device', requester: { kind: 'cli' }, actor: 'test' });
      credentials.deviceCert = { cert: device.certificate + device.chain.join(''), key: deviceKey.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() };
    });
    after(async () => {
      await hm?.close();
      await webhook?.close();
      await backend.cleanup();
    });

    test('every shipped profile × every REST principal gets exactly what the table says', async () => {
      assert.deepEqual([...hm.ctx.config.profiles.keys()].sort(), Object.keys(MATRIX).sort(), 'the table covers every shipped profile');
      for (const [profile, row] of Object.entries(MATRIX)) {
        for (const principal of PRINCIPALS) {
          const identity = `m-${++seq}`;
          const csr = craftEcCsr({ subject: cnName(profile === 'tls-server' ? 'localhost' : identity) });
          const before = await count('certificates');
          const r = await issue(credentials[principal], { csr, profile, device: profile === 'tls-server' ? undefined : identity });
          assert.equal(r.status, row[principal], `${profile} × ${principal}: ${r.body}`);
          if (r.status === 403) assert.equal(await count('certificates'), before, `${profile} × ${principal}: nothing written`);
        }
      }
    });

    test('finding 1: profiles that mint authority are not reachable with cert.issue alone', async () => {
      // The reported attack: an operator key obtains a delegated OCSP responder for the issuing CA.
      const ocsp = await issue(credentials.operatorKey, { csr: craftEcCsr(), profile: 'ocsp-signer', device: 'issuing' });
      assert.equal(ocsp.status, 403);
      assert.equal(ocsp.json().error.code, 'profile_not_allowed');
      assert.match(ocsp.json().error.message, /API key \(role operator\) may not request it/);
      for (const profile of ['operator', 'station']) {
        const r = await issue(credentials.operatorKey, { csr: craftEcCsr(), profile, device: `evil-${profile}` });
        assert.equal(r.status, 403, r.body);
        assert.match(r.json().error.message, /mints authority|only from role admin/);
      }
      // What an admin obtains is marked high-impact in the audit log.
      const granted = await issue(credentials.adminSession, { csr: craftEcCsr(), profile: 'station', device: 'granted-station' });
      assert.equal(granted.status, 201, granted.body);
      const event = await sql(await sequenced(hm.ctx.store))('audit_events').where({ action: 'certificate.issue', target: granted.json().serial }).first();
      assert.equal(JSON.parse(event.details).highImpact, true);
    });

    test('finding 1: tls-server names are service names or an admin pattern, without wildcards or control characters, always in the SAN', async () => {
      const admin = credentials.adminSession;
      const refused: [string, Uint8Array, Uint8Array[], RegExp][] = [
        ['a wildcard CN', cnName('*.svc.example.test'), [], /wildcard/],
        ['a wildcard SAN', cnName('localhost'), [sanDns(['*.example.com'])], /wildcard/],
        ['a CN with NUL', cnName('local\u0000host'), [], /not accepted|does not match/],
        ['a CN with a newline', cnName('a.svc.example.test\nb'), [], /not accepted|does not match/],
        ['a CN with ESC', cnName('\u001b[31mred.svc.example.test'), [], /not accepted|does not match/],
        ['a name nobody configured', cnName('bank.example.com'), [], /does not match/],
      ];
      for (const [what, subject, extensions, message] of refused) {
        const before = await count('certificates');
        const r = await issue(admin, { csr: craftEcCsr({ subject, extensions }), profile: 'tls-server' });
        assert.equal(r.status, 400, `${what}: ${r.body}`);
        assert.match(r.json().error.message, message, what);
        assert.equal(await count('certificates'), before, `${what}: nothing written`);
      }
      // No SAN in the request: the certificate still names its server in one.
      const bare = await issue(admin, { csr: craftEcCsr({ subject: cnName('localhost') }), profile: 'tls-server' });
      assert.equal(bare.status, 201, bare.body);
      const san = new x509.X509Certificate(bare.json().certificate).getExtension(x509.SubjectAlternativeNameExtension);
      assert.deepEqual(san?.names.items.map((n) => `${n.type}:${n.value}`), ['dns:localhost']);
      const patterned = await issue(admin, { csr: craftEcCsr({ subject: cnName('api.svc.example.test'), extensions: [sanDns(['api.svc.example.test', 'localhost'])] }), profile: 'tls-server' });
      assert.equal(patterned.status, 201, patterned.body);
    });

    test('finding 2: a credential mints nothing wider or longer-lived than itself', async () => {
      const now = clock.now();
      const dayKey = await createApiKey(hm.ctx.store, { role: 'admin', scopes: ['cert.issue'], expiresAt: new Date(now.getTime() + DAY), createdBy: 'test', now });
      const operatorCert = await issue({ token: dayKey.apiKey }, { csr: craftEcCsr(), profile: 'operator', device: 'long-lived', validityDays: 397 });
      assert.equal(operatorCert.status, 403, operatorCert.body);
      // An admin key scoped for authority gets one, but no longer than the key itself lives.
      const capped = await issue(credentials.authorityKey, { csr: craftEcCsr(), profile: 'operator', device: 'capped', validityDays: 397 });
      assert.equal(capped.status, 201, capped.body);
      const notAfter = new x509.X509Certificate(capped.json().certificate).notAfter.getTime();
      const keyRow = await sql(hm.ctx.store)('api_keys').where({ created_by: 'test', role: 'admin' }).whereNotNull('expires_at').whereNotNull('scopes').where('scopes', 'like', '%cert.authority%').first();
      assert.ok(notAfter <= Number(keyRow.expires_at), `the operator certificate (${new Date(notAfter).toISOString()}) outlives the key that asked for it`);
      // An admin session is a person with password and TOTP: it may give the profile's full validity.
      const full = await issue(credentials.adminSession, { csr: craftEcCsr(), profile: 'operator', device: 'full-term', validityDays: 397 });
      assert.equal(full.status, 201, full.body);
      assert.ok(new x509.X509Certificate(full.json().certificate).notAfter.getTime() > now.getTime() + 396 * DAY);

      const keyManager = await createApiKey(hm.ctx.store, { role: 'admin', scopes: ['apikey.manage'], createdBy: 'test', now });
      const unscoped = await hm.request('POST', 'apikeys', { token: keyManager.apiKey, body: { role: 'admin' } });
      assert.equal(unscoped.status, 403, unscoped.body);
      assert.equal(unscoped.json().error.code, 'escalation');
      const shortManager = await createApiKey(hm.ctx.store, { role: 'admin', scopes: ['apikey.manage', 'ca.read'], expiresAt: new Date(now.getTime() + DAY), createdBy: 'test', now });
      const forever = await hm.request('POST', 'apikeys', { token: shortManager.apiKey, body: { role: 'read-only', scopes: ['ca.read'] } });
      assert.equal(forever.status, 403, forever.body);
      assert.match(forever.json().error.message, /cannot outlive/);
      const within = await hm.request('POST', 'apikeys', { token: shortManager.apiKey, body: { role: 'read-only', scopes: ['ca.read'], expiresInDays: 0.5 } });
      assert.equal(within.status, 201, within.body);
      const refusal = await sql(await sequenced(hm.ctx.store))('audit_events').where({ action: 'apikey.create', outcome: 'failure' }).first();
      assert.ok(refusal, 'a refused grant is audited');
    });

    test('finding 3: weak RSA keys are refused, a key is bound to one identity, a compromised key for ever', async () => {
      const admin = credentials.adminSession;
      for (const [what, csr, message] of [
        ['public exponent 1', craftRsaCsr({ e: 1n }), /exponent 1 is outside/],
        ['public exponent 3', craftRsaCsr({ e: 3n }), /exponent 3 is outside/],
        ['public exponent 2^256 + 1', craftRsaCsr({ e: (1n << 256n) + 1n }), /outside \[65537, 2\^256\)/],
        ['primes close enough for Fermat', craftRsaCsr({ e: 65537n, close: true }), /Fermat/],
      ] as const) {
        const r = await issue(admin, { csr, profile: 'device', device: `weak-${++seq}` });
        assert.equal(r.status, 400, `${what}: ${r.body}`);
        assert.match(r.json().error.message, /weak key/, what);
        assert.match(r.json().error.message, message, what);
      }
      const shared = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const first = await issue(admin, { csr: craftEcCsr({ key: shared }), profile: 'device', device: 'key-owner' });
      assert.equal(first.status, 201, first.body);
      const before = await count('certificates');
      const second = await issue(admin, { csr: craftEcCsr({ key: shared }), profile: 'device', device: 'key-thief' });
      assert.equal(second.status, 409, second.body);
      assert.equal(second.json().error.code, 'key_in_use');
      assert.equal(await count('certificates'), before, 'nothing written for the refused identity');
      // The same identity with its own key again (a renewal's shape) is no second identity.
      const again = await issue(admin, { csr: craftEcCsr({ key: shared }), profile: 'device', device: 'key-owner' });
      assert.equal(again.status, 201, again.body);
      const revoked = await hm.request('POST', `certificates/${again.json().serial}/revoke`, { ...admin, body: { reason: 'keyCompromise' } });
      assert.equal(revoked.status, 200, revoked.body);
      const afterCompromise = await issue(admin, { csr: craftEcCsr({ key: shared }), profile: 'device', device: 'key-owner' });
      assert.equal(afterCompromise.status, 403, afterCompromise.body);
      assert.equal(afterCompromise.json().error.code, 'key_compromised');
    });

    test('finding 4: a hostile CSR fails alone with 400, on every path', async () => {
      const stationDir = path.join(dir, 'stations');
      const station = await addStation({ store: hm.ctx.store, audit: hm.ctx.audit, issue: hm.running.issue }, { name: `st-${backend.name}`, line: 'line-p', profiles: ['device'], quotaPerHour: 100_000, actor: 'test', dir: stationDir });
      // An odd-length BMPString in the CN of the eighth of twenty.
      const oddBmp = craftEcCsr({ subject: nameDer([['2.5.4.3', 0x1e, Uint8Array.of(0x00, 0x41, 0x00)]]) });
      const serial = (i: number) => `hb-${backend.name}-${i}`;
      const devices = Array.from({ length: 20 }, (_, i) => ({ deviceSerial: serial(i), model: 'M', lot: 'L', firmwareVersion: '1', csr: i === 7 ? oddBmp : craftEcCsr({ subject: cnName(serial(i)) }) }));
      const batch = await hm.request('POST', 'factory/provision/batch', { token: station.apiKey, body: { devices } });
      assert.equal(batch.status, 200, batch.body);
      const results = batch.json().results;
      assert.equal(results.filter((r: { serial?: string }) => r.serial).length, 19, batch.body);
      assert.equal(results[7].error.code, 'csr_invalid');
      assert.match(results[7].error.message, /BMPString of odd length/);

      const admin = credentials.adminSession;
      const cases: [string, string, RegExp][] = [
        ['invalid UTF-8 in the CN', craftEcCsr({ subject: nameDer([['2.5.4.3', 0x0c, Uint8Array.of(0x61, 0xff, 0xfe)]]) }), /not valid UTF-8/],
        ['a PrintableString with a character it cannot hold', craftEcCsr({ subject: nameDer([['2.5.4.3', 0x13, Uint8Array.of(0x61, 0x40)]]) }), /PrintableString/],
        ['two subjectAltName extensions', craftEcCsr({ subject: cnName('localhost'), extensions: [sanDns(['localhost']), sanDns(['a.svc.example.test'])] }), /appears more than once/],
        ['two extended key usage extensions', craftEcCsr({ extensions: [extension('2.5.29.37', Uint8Array.of(0x30, 0)), extension('2.5.29.37', Uint8Array.of(0x30, 0))] }), /appears more than once/],
        ['1,500 names', craftEcCsr({ subject: cnName('localhost'), extensions: [sanDns(Array.from({ length: 1500 }, (_, i) => `n${i}.svc.example.test`))] }), /1501 names requested; this profile accepts at most 16/],
      ];
      for (const [what, csr, message] of cases) {
        const before = await count('certificates');
        const r = await issue(admin, { csr, profile: 'tls-server' });
        assert.equal(r.status, 400, `${what}: ${r.body}`);
        assert.match(r.json().error.message, message, what);
        assert.equal(await count('certificates'), before, `${what}: nothing written`);
      }
      // 2,000 names through the CLI's path (no HTTP body limit in the way): refused by the profile's bound.
      await assert.rejects(
        issueCertificate(hm.running.issue, { csr: craftEcCsr({ subject: cnName('localhost'), extensions: [sanDns(Array.from({ length: 2000 }, (_, i) => `n${i}.svc.example.test`))] }), profile: 'tls-server', requester: { kind: 'cli' }, actor: 'test' }),
        /2001 names requested; this profile accepts at most 16/,
      );
      // The same odd BMPString over EST: 400 with the reason, the process unharmed.
      const secret = (await createEnrollmentToken(hm.ctx.store, { device: 'hostile-est', expiresAt: new Date(clock.now().getTime() + DAY), createdBy: 'test', now: clock.now() })).secret;
      const est = await hm.request('POST', '/.well-known/est/simpleenroll', { rawBody: Buffer.from(derBody(oddBmp)).toString('base64'), contentType: 'application/pkcs10', headers: { authorization: basic('hostile-est', secret) } });
      assert.equal(est.status, 400, est.body);
      assert.match(est.body, /BMPString of odd length/);
    });

    test('finding 5: EST secrets count per device and address; one failing device does not block the others behind its address', async () => {
      const now = clock.now();
      const a = await createEnrollmentToken(hm.ctx.store, { device: 'nat-a', expiresAt: new Date(now.getTime() + DAY), createdBy: 'test', now });
      const b = await createEnrollmentToken(hm.ctx.store, { device: 'nat-b', expiresAt: new Date(now.getTime() + DAY), createdBy: 'test', now });
      const enroll = (device: string, secret: string) =>
        hm.request('POST', '/.well-known/est/simpleenroll', { rawBody: Buffer.from(derBody(craftEcCsr({ subject: cnName(device) }))).toString('base64'), contentType: 'application/pkcs10', headers: { authorization: basic(device, secret) }, localAddress: '127.0.0.2' });
      const wrong = `${a.id}.${'x'.repeat(32)}`;
      for (let i = 0; i < 10; i++) assert.equal((await enroll('nat-a', wrong)).status, 401);
      const blocked = await enroll('nat-a', a.secret);
      assert.equal(blocked.status, 429, 'the device that failed is blocked, even with its right secret');
      assert.ok(Number(blocked.headers['retry-after']) > 0);
      assert.equal((await enroll('nat-b', b.secret)).status, 200, 'another device behind the same address enrolls');
      // Audited, the repeats folded into one row per minute.
      const rows = async () => sql(await sequenced(hm.ctx.store))('audit_events').where({ action: 'auth.failure', actor: 'est:nat-a' }).orderBy('seq');
      assert.equal((await rows()).length, 1);
      clock.advance(61_000);
      await hm.running.plane.denials.sweep();
      const folded = await rows();
      assert.equal(folded.length, 2);
      assert.equal(JSON.parse(folded[1].details).repeated, 9);
      // The JSON twin is counted and audited the same way.
      const rest = await hm.request('POST', 'enroll', { body: { device: 'nat-c', secret: 'not-a-secret', csr: craftEcCsr({ subject: cnName('nat-c') }) }, localAddress: '127.0.0.8' });
      assert.equal(rest.status, 401, rest.body);
      assert.ok(await sql(await sequenced(hm.ctx.store))('audit_events').where({ action: 'auth.failure', actor: 'est:nat-c' }).first(), '/api/v1/enroll failures are audited');
    });

    test('finding 5: an account attacked from many addresses raises an alert and is blocked everywhere; the CLI lists and lifts the block', async () => {
      clock.advance(TOTP_STEP_SECONDS * 1000);
      const statuses: number[] = [];
      // The console's sign-in, as reported.
      for (let i = 0; i < 36; i++) statuses.push((await login('victim', `127.0.0.${3 + (i % 4)}`, `guess ${i}`, '/console/session')).status);
      assert.deepEqual(statuses.slice(0, 30), Array(30).fill(401), 'nine from each address: no pair reaches its threshold');
      assert.deepEqual(statuses.slice(30), Array(6).fill(429), 'thirty for the account: blocked from any address');
      const alert = await webhook.waitFor((x) => x.rule === 'account-under-attack' && x.details.credential === 'operator:victim');
      assert.equal(alert.details.sources, 4);
      assert.equal((await login('victim', '127.0.0.7')).status, 429, 'the right password from a fresh address waits too');
      assert.equal((await login('ada', '127.0.0.3')).status, 201, 'other accounts are not blocked');

      const env = await cliEnv(home, backend, token);
      const blocks = await hallmarkJson(env, 'security', 'blocks', 'list');
      const block = blocks.find((b: { credential: string; scope: string }) => b.credential === 'operator:victim' && b.scope === 'credential');
      assert.ok(block, JSON.stringify(blocks));
      const lifted = await hallmark(env, 'security', 'blocks', 'lift', block.id);
      assert.equal(lifted.code, 0, lifted.stderr);
      assert.match(lifted.stderr, /lifted block/);
      await hm.running.poll();
      clock.advance(TOTP_STEP_SECONDS * 1000);
      assert.equal((await login('victim', '127.0.0.7')).status, 201, 'lifted: the operator signs in');
      assert.ok(await sql(await sequenced(hm.ctx.store))('audit_events').where({ action: 'security.block.lift', target: block.id }).first(), 'the lift is audited');
      assert.equal((await hallmark(env, 'security', 'blocks', 'lift', block.id)).code, 1, 'a block lifted is not lifted twice');
    });

    test('finding 5: 200 refusals from one certificate write one audit row and then one with the count', async () => {
      const denied = async () => sql(await sequenced(hm.ctx.store))('audit_events').where({ action: 'auth.denied' }).where('actor', 'like', 'certificate:%').orderBy('seq');
      const before = (await denied()).length;
      for (let i = 0; i < 200; i++) assert.equal((await hm.request('GET', 'certificates', credentials.deviceCert)).status, 403);
      assert.equal((await denied()).length, before + 1);
      clock.advance(61_000);
      await hm.running.plane.denials.sweep();
      const rows = await denied();
      assert.equal(rows.length, before + 2);
      assert.equal(JSON.parse(rows.at(-1).details).repeated, 199);
    });

    test('finding 6: a malformed session cookie is a 401; of six concurrent refreshes one wins', async () => {
      const malformed = await hm.request('GET', 'whoami', { headers: { cookie: '__Host-hallmark-session=%E0%A4%A' } });
      assert.equal(malformed.status, 401, malformed.body);
      clock.advance(TOTP_STEP_SECONDS * 1000);
      const session = (await login('ada', '127.0.0.9')).json().token;
      const refreshes = await Promise.all(Array.from({ length: 6 }, () => hm.request('POST', 'sessions/refresh', { token: session })));
      assert.deepEqual(refreshes.map((r) => r.status).sort(), [201, 401, 401, 401, 401, 401]);
      const live = await sql(hm.ctx.store)('sessions').where({ operator: 'ada' }).whereNull('revoked_at');
      const winner = refreshes.find((r) => r.status === 201)!.json().token;
      assert.equal((await hm.request('GET', 'whoami', { token: winner })).status, 200);
      assert.ok(!live.some((s: { id: string }) => session.includes(s.id)), 'the refreshed session is closed');
    });

    test('finding 7: HALLMARK_HOME and the database are the owner\'s alone, and tightened when found loose', async () => {
      const dataHome = path.join(home.home, `data-${token}`);
      const mode = (file: string) => fs.statSync(file).mode & 0o777;
      assert.equal(mode(dataHome), 0o700);
      const files = backend.name === 'sqlite' ? [SQLITE_FILE, `${SQLITE_FILE}-wal`, `${SQLITE_FILE}-shm`].map((f) => path.join(dataHome, f)).filter((f) => fs.existsSync(f)) : [];
      if (backend.name === 'sqlite') assert.ok(files.length >= 2, 'the database and its WAL exist');
      for (const file of files) assert.equal(mode(file), 0o600, file);
      fs.chmodSync(dataHome, 0o755);
      for (const file of files) fs.chmodSync(file, 0o644);
      const env = await cliEnv(home, backend, token);
      const listed = await hallmark(env, 'ca', 'list');
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stderr, /readable by others; tightened to owner-only/);
      assert.equal(mode(dataHome), 0o700);
      for (const file of files) assert.equal(mode(file), 0o600, file);
    });
  });
}

describe('profiles and routes that could reach authority', () => {
  test('a profile that mints authority cannot be opened to devices or stations, nor to operators over REST', async () => {
    const { profileSchema } = await import('../src/profiles/schema.js');
    const base = { name: 'x', issuer: 'issuing', keyTypes: ['ec-p256'], validity: { defaultDays: 1, maxDays: 1 }, keyUsage: ['digitalSignature'], identity: { required: false }, subject: { CN: '{csr.CN}' } };
    for (const [what, extra] of [
      ['a server profile for enrollment', { extendedKeyUsage: ['serverAuth'], requesters: { enrollment: true } }],
      ['an OCSP responder for stations', { extendedKeyUsage: ['OCSPSigning'], ocspNoCheck: true, requesters: { station: true } }],
      ['a time-stamping authority for devices', { extendedKeyUsage: ['timeStamping'], requesters: { enrollment: true } }],
      ['an operator certificate for renewal', { extendedKeyUsage: ['clientAuth'], role: 'operator', requesters: { renewal: true } }],
      ['an authority profile for operators over REST', { authority: true, requesters: { rest: { roles: ['admin', 'operator'] } } }],
    ] as const) {
      const parsed = profileSchema.safeParse({ ...base, ...extra });
      assert.equal(parsed.success, false, what);
      assert.match(JSON.stringify(parsed.error?.issues), /mints authority/, what);
    }
  });

  test('an EST label on a profile that does not accept enrollment is a configuration error', async () => {
    const { loadCaConfig } = await import('../src/config/ca-config.js');
    const dir = fs.mkdtempSync(path.join(home.home, 'label-'));
    const file = configCopy(dir, (c) => {
      c.est = { labels: { evil: { profile: 'operator', enroll: ['token'] } } };
    });
    assert.throws(() => loadCaConfig(file), /est\.labels\.evil\.profile: profile "operator" does not accept device enrollment/);
  });

  test('every requester kind × every shipped profile, at the policy rule', async () => {
    const { loadCaConfig } = await import('../src/config/ca-config.js');
    const { requesterAllowed } = await import('../src/profiles/rules/requester-allowed.js');
    const { verifyCsr } = await import('../src/x509/csr.js');
    const config = loadCaConfig(configCopy(fs.mkdtempSync(path.join(home.home, 'kinds-')), () => {}));
    const csr = await verifyCsr(craftEcCsr());
    const EXPECTED: Record<string, Record<string, boolean>> = {
      device: { enrollment: true, renewal: true, station: true, cli: true, system: true },
      operator: { enrollment: false, renewal: false, station: false, cli: true, system: true },
      station: { enrollment: false, renewal: false, station: false, cli: true, system: true },
      'tls-server': { enrollment: false, renewal: false, station: false, cli: true, system: true },
      'ocsp-signer': { enrollment: false, renewal: false, station: false, cli: true, system: true },
      'firmware-signer': { enrollment: false, renewal: false, station: false, cli: true, system: true },
      tsa: { enrollment: false, renewal: false, station: false, cli: true, system: true },
      'cmp-responder': { enrollment: false, renewal: false, station: false, cli: true, system: true },
      'scep-ra': { enrollment: false, renewal: false, station: false, cli: true, system: true },
      // Renewal is off: a CSR cannot prove where its key lives (the profile requires TPM attestation).
      'device-tpm': { enrollment: true, renewal: false, station: true, cli: true, system: true },
    };
    for (const [name, profile] of config.profiles) {
      for (const [kind, allowed] of Object.entries(EXPECTED[name]!)) {
        const request = { csr, profile, identity: 'x', requester: { kind } as never };
        const context = { now: new Date(), issuer: { name: 'issuing', notBefore: new Date(0), notAfter: new Date(8e15) }, serviceNames: [] };
        const check = () => (requesterAllowed as { check(r: unknown, c: unknown): void }).check(request, context);
        if (allowed) assert.doesNotThrow(check, `${name} × ${kind}`);
        else assert.throws(check, /may not request it/, `${name} × ${kind}`);
      }
    }
  });

  test('station add refuses a profile that stations may not request', async () => {
    const { addStation: add } = await import('../src/factory/stations.js');
    const { loadCaConfig } = await import('../src/config/ca-config.js');
    const config = loadCaConfig(configCopy(fs.mkdtempSync(path.join(home.home, 'st-')), () => {}));
    const deps = { db: undefined, audit: undefined, issue: { profiles: config.profiles } } as never;
    await assert.rejects(add(deps, { name: 'st-x', line: 'l', profiles: ['ocsp-signer'], quotaPerHour: 1, actor: 'test', dir: home.home }), /does not accept provisioning stations/);
  });

  test('a key is the same key however it is encoded: EC compressed or not, RSA with another exponent', async () => {
    const { publicKeyId } = await import('../src/x509/key-id.js');
    const { createPublicKey } = await import('node:crypto');
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const uncompressed = ec.publicKey.export({ format: 'der', type: 'spki' });
    const point = uncompressed.subarray(uncompressed.length - 65);
    const algorithm = uncompressed.subarray(2, uncompressed.length - 68);
    const bits = Buffer.concat([Buffer.of(0x03, 34, 0x00, point[64]! & 1 ? 0x03 : 0x02), point.subarray(1, 33)]);
    const compressed = Buffer.concat([Buffer.of(0x30, algorithm.length + bits.length), algorithm, bits]);
    assert.ok(createPublicKey({ key: compressed, format: 'der', type: 'spki' }), 'OpenSSL reads the compressed form');
    assert.equal(publicKeyId(new Uint8Array(compressed)), publicKeyId(new Uint8Array(uncompressed)));
    assert.notEqual(publicKeyId(new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' }))), publicKeyId(new Uint8Array(uncompressed)));
    const { verifyCsr } = await import('../src/x509/csr.js');
    // Two requests on one modulus with different exponents: one key to the binding.
    const primes = rsaPrimes([65537n, 65539n]);
    const first = await verifyCsr(craftRsaCsr({ e: 65537n, primes }));
    const again = await verifyCsr(craftRsaCsr({ e: 65539n, primes }));
    assert.notDeepEqual(Buffer.from(first.spkiDer), Buffer.from(again.spkiDer));
    assert.equal(publicKeyId(first.spkiDer), publicKeyId(again.spkiDer));
  });

  test('scripts/dev-token.sh never puts a PIN on a command line', async () => {
    const { run } = await import('./helpers/run.js');
    const { ROOT } = await import('./helpers/paths.js');
    const tokenHome = fs.mkdtempSync(path.join(home.home, 'pin-'));
    const traced = await run('strace', ['-f', '-qq', '-e', 'trace=execve', '-s', '512', 'bash', path.join(ROOT, 'scripts', 'dev-token.sh')], { env: { ...process.env, HALLMARK_HOME: tokenHome, HALLMARK_PKCS11_TOKEN: 'pin-check' } });
    assert.equal(traced.code, 0, traced.stderr);
    const pin = fs.readFileSync(path.join(tokenHome, 'hsm', 'user.pin'), 'utf8').trim();
    assert.match(pin, /^[0-9a-f]{32}$/);
    const execs = traced.stderr.split('\n').filter((l) => l.includes('execve('));
    assert.ok(execs.some((l) => l.includes('init-token.mjs')), 'the token was made through the PKCS#11 script');
    assert.ok(!execs.some((l) => l.includes(pin)), 'the PIN is in no process arguments');
    assert.equal(fs.statSync(tokenHome).mode & 0o777, 0o700);
  });
});
