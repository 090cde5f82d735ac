import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { BACKENDS } from './helpers/backends.js';
import { opensslCsr } from './helpers/csr.js';
import { cliEnv, hallmark, hallmarkJson } from './helpers/cli.js';
import { startInProcess, type InProcessHallmark } from './helpers/in-process.js';
import { addStation } from '../src/factory/stations.js';
import { createEnrollmentToken } from '../src/auth/enrollment-tokens.js';
import { sql } from '../src/store/handle.js';
import { toPem } from '../src/x509/pem.js';
import { mustRun } from './helpers/run.js';

/** A device is a device however it got its identity: every enrollment path shows up in one inventory. */

let home: TestHome;
before(async () => {
  home = await makeTestHome(['inv-sqlite', 'inv-postgres']);
});
after(() => home?.cleanup());

for (const backendOf of BACKENDS) {
  const backend = backendOf();
  describe(`device inventory on ${backend.name}`, () => {
    let hm: InProcessHallmark;
    let env: NodeJS.ProcessEnv;
    let dir: string;
    const csr = async (cn: string) => (await opensslCsr(dir, { subject: `/CN=${cn}` })).csrPem;
    const secretFor = async (device: string) => (await createEnrollmentToken(hm.ctx.store, { device, expiresAt: new Date(Date.now() + 3_600_000), createdBy: 'test', now: new Date() })).secret;
    const basic = (device: string, secret: string) => `Basic ${Buffer.from(`${device}:${secret}`).toString('base64')}`;

    before(async () => {
      hm = await startInProcess(home, backend, `inv-${backend.name}`);
      env = await cliEnv(home, backend, `inv-${backend.name}`);
      dir = fs.mkdtempSync(path.join(home.home, `inv-${backend.name}-`));
      const token = hm.init.admin.apiKey;
      // One device by each path.
      const station = await addStation({ store: hm.ctx.store, audit: hm.ctx.audit, issue: hm.running.issue }, { name: 'inv-st', line: 'inv-line', profiles: ['device'], quotaPerHour: 100, actor: 'test', dir });
      const factory = await hm.request('POST', 'factory/provision', { token: station.apiKey, body: { deviceSerial: 'inv-factory', model: 'M1', lot: 'inv-lot', firmwareVersion: '1', csr: await csr('inv-factory') } });
      assert.equal(factory.status, 201, factory.body);
      const est = await hm.request('POST', '/.well-known/est/simpleenroll', { rawBody: (await csr('inv-est')).replace(/-----[A-Z ]+-----|\s/g, ''), contentType: 'application/pkcs10', headers: { authorization: basic('inv-est', await secretFor('inv-est')) } });
      assert.equal(est.status, 200, est.body);
      const enrolled = await hm.request('POST', 'enroll', { body: { device: 'inv-enroll', secret: await secretFor('inv-enroll'), csr: await csr('inv-enroll') } });
      assert.equal(enrolled.status, 201, enrolled.body);
      const rest = await hm.request('POST', 'certificates', { token, body: { csr: await csr('inv-rest'), profile: 'device', device: 'inv-rest' } });
      assert.equal(rest.status, 201, rest.body);
      fs.writeFileSync(path.join(dir, 'cli.csr'), await csr('inv-cli'));
      const cli = await hallmark(env, 'cert', 'issue', '--csr', path.join(dir, 'cli.csr'), '--profile', 'device', '--device', 'inv-cli');
      assert.equal(cli.code, 0, cli.stderr);
      // Not a device: a station's own certificate and the service's are not in the inventory.
    });
    after(async () => {
      await hm?.close();
      await backend.cleanup();
    });

    const EXPECTED = { 'inv-cli': 'cli', 'inv-enroll': 'rest enroll', 'inv-est': 'est (secret)', 'inv-factory': 'factory', 'inv-rest': 'rest' };

    test('the CLI lists every path, says how each enrolled, and only devices', async () => {
      const rows = await hallmarkJson<{ serial: string; via: string; line: string | null; certificate: { status: string } }[]>(env, 'device', 'list', '--prefix', 'inv-');
      assert.deepEqual(Object.fromEntries(rows.map((r) => [r.serial, r.via])), EXPECTED);
      assert.equal(rows.find((r) => r.serial === 'inv-factory')!.line, 'inv-line');
      assert.ok(rows.every((r) => r.certificate.status === 'active'));
      const all = await hallmarkJson<{ serial: string }[]>(env, 'device', 'list');
      assert.ok(!all.some((r) => r.serial === 'inv-st'), 'a station is not a device');
      // The prefix is exact, case and all, on both databases.
      assert.deepEqual(await hallmarkJson(env, 'device', 'list', '--prefix', 'INV-'), []);
    });

    test('device show: any path, with its certificates newest first; unknown ids say so', async () => {
      const shown = await hallmarkJson<{ serial: string; via: string; history: { serial: string; requestedBy: string }[] }>(env, 'device', 'show', 'inv-est');
      assert.equal(shown.via, 'est (secret)');
      assert.equal(shown.history.length, 1);
      assert.match(shown.history[0]!.requestedBy, /^est:token:/);
      const factory = await hallmarkJson<{ line: string; via: string; certificateSerial: string; records: unknown[] }>(env, 'device', 'show', 'inv-factory');
      assert.equal(factory.line, 'inv-line');
      assert.equal(factory.via, 'factory');
      assert.match(factory.certificateSerial, /^[0-9a-f]+$/);
      assert.equal(factory.records.length, 1);
      const none = await hallmark(env, 'device', 'show', 'inv-nobody');
      assert.equal(none.code, 1);
      assert.match(none.stderr, /no device inv-nobody/);
    });

    test('last seen: a relying party asking OCSP (openssl ocsp) and a renewal, on REST and in device show', async () => {
      const enrolling = await opensslCsr(dir, { subject: '/CN=seen-dev' });
      const enrolled = await hm.request('POST', 'enroll', { body: { device: 'seen-dev', secret: await secretFor('seen-dev'), csr: enrolling.csrPem } });
      assert.equal(enrolled.status, 201, enrolled.body);
      const cert = enrolled.json();
      const token = hm.init.admin.apiKey;
      assert.deepEqual((await hm.request('GET', 'devices/seen-dev', { token })).json().lastSeen, { ocsp: null, renewal: null });

      fs.writeFileSync(path.join(dir, 'seen.pem'), cert.certificate);
      fs.writeFileSync(path.join(dir, 'issuing.pem'), toPem(hm.running.issue.issuers.get('issuing').certificate, 'CERTIFICATE'));
      const asked = Date.now();
      const ocsp = await mustRun('openssl', ['ocsp', '-issuer', path.join(dir, 'issuing.pem'), '-cert', path.join(dir, 'seen.pem'), '-url', `http://127.0.0.1:${hm.running.http}/ocsp`, '-noverify']);
      assert.match(ocsp, /: good/);
      await hm.running.poll(); // the instance writes what OCSP saw on its poll
      const seen = (await hm.request('GET', 'devices/seen-dev', { token })).json().lastSeen;
      assert.ok(seen.ocsp && Date.parse(seen.ocsp) >= asked - 1000, JSON.stringify(seen));
      assert.equal(seen.renewal, null);

      assert.equal((await hm.request('POST', `certificates/${cert.serial}/allow-renewal`, { token })).status, 200);
      const renewed = await hm.request('POST', 'renew', { cert: cert.certificate + cert.chain.join(''), key: fs.readFileSync(enrolling.keyFile, 'utf8'), body: { csr: (await opensslCsr(dir, { subject: '/CN=seen-dev/O=Hallmark Devices' })).csrPem } });
      assert.equal(renewed.status, 201, renewed.body);
      const shown = await hallmarkJson<{ lastSeen: { ocsp: string; renewal: string } }>(env, 'device', 'show', 'seen-dev');
      assert.equal(shown.lastSeen.ocsp, seen.ocsp, 'the OCSP sighting of the old certificate still counts');
      assert.ok(shown.lastSeen.renewal && Date.parse(shown.lastSeen.renewal) >= asked - 1000);
    });

    test('REST pages through the whole inventory with next/after, and filters by status', async () => {
      const token = hm.init.admin.apiKey;
      const seen: string[] = [];
      let after: string | undefined;
      for (let pages = 0; pages < 5; pages++) {
        const r = await hm.request('GET', `devices?serial=inv-&limit=2${after ? `&after=${after}` : ''}`, { token });
        assert.equal(r.status, 200, r.body);
        const body = r.json() as { devices: { serial: string }[]; next?: string };
        seen.push(...body.devices.map((d) => d.serial));
        if (!body.next) break;
        after = body.next;
      }
      assert.deepEqual(seen, Object.keys(EXPECTED).sort());
      const cli = (await hallmarkJson<{ certificate: { serial: string } }>(env, 'device', 'show', 'inv-cli')).certificate.serial;
      assert.equal((await hallmark(env, 'cert', 'revoke', cli, '--reason', 'keyCompromise')).code, 0);
      const revoked = (await hm.request('GET', 'devices?serial=inv-&certificateStatus=revoked', { token })).json() as { devices: { serial: string; certificate: { status: string } }[] };
      assert.deepEqual(revoked.devices.map((d) => d.serial), ['inv-cli']);
      const active = (await hm.request('GET', 'devices?serial=inv-&certificateStatus=active', { token })).json() as { devices: { serial: string }[] };
      assert.deepEqual(active.devices.map((d) => d.serial), ['inv-enroll', 'inv-est', 'inv-factory', 'inv-rest']);
      assert.deepEqual((await hallmarkJson<{ serial: string }[]>(env, 'device', 'list', '--prefix', 'inv-', '--status', 'revoked')).map((d) => d.serial), ['inv-cli']);
      // A line or lot is the factory's: its devices only.
      assert.deepEqual((await hallmarkJson<{ serial: string }[]>(env, 'device', 'list', '--lot', 'inv-lot')).map((d) => d.serial), ['inv-factory']);
    });

    test('audit reading: action prefix, newest-first pages, a time range, actors by name, issuances by final outcome', async () => {
      const token = hm.init.admin.apiKey;
      type Entry = { seq: number; action: string; actor: string; actorName: string | null; outcome: string; finalOutcome: string; target: string | null };
      const get = async (query: string) => {
        const r = await hm.request('GET', `audit?${query}`, { token });
        assert.equal(r.status, 200, r.body);
        return (r.json() as { entries: Entry[] }).entries;
      };
      const certificates = await get('action=certificate&newest=true&limit=1000');
      assert.ok(certificates.length >= 5 && certificates.every((e) => e.action.startsWith('certificate')));
      const issued = certificates.filter((e) => e.action === 'certificate.issue');
      assert.ok(issued.every((e) => e.outcome === 'pending' && e.finalOutcome === 'success'), 'every logged issuance was recorded');
      const station = (await sql(hm.ctx.store)('stations').where({ name: 'inv-st' }).first()) as { api_key_id: string };
      const byStation = issued.find((e) => e.actor === `apikey:${station.api_key_id}`);
      assert.equal(byStation?.actorName, 'station inv-st');
      assert.deepEqual(await get('action=Certificate'), [], 'the prefix is exact, case and all');
      const first = await get('newest=true&limit=3');
      const next = await get(`newest=true&limit=3&before=${first[2]!.seq}`);
      assert.deepEqual(next.map((e) => e.seq), [first[2]!.seq - 1, first[2]!.seq - 2, first[2]!.seq - 3]);
      assert.deepEqual(await get(`since=${new Date(Date.now() + 3_600_000).toISOString()}`), []);
      assert.ok((await get(`until=${new Date(Date.now() + 3_600_000).toISOString()}&limit=5`)).length === 5);
    });

    test('the decoded certificate names its key usage and extended key usage', async () => {
      const serial = (await hallmarkJson<{ certificate: { serial: string } }>(env, 'device', 'show', 'inv-rest')).certificate.serial;
      const r = (await hm.request('GET', `certificates/${serial}`, { token: hm.init.admin.apiKey })).json() as { decoded: { keyUsage: string[]; extendedKeyUsage: string[] } };
      assert.deepEqual(r.decoded.keyUsage, ['digitalSignature']);
      assert.deepEqual(r.decoded.extendedKeyUsage, ['clientAuth']);
    });
  });
}
