import { asStore, sql } from '../src/store/handle.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { BACKENDS, urlWithSchema } from './helpers/backends.js';
import { startInProcess, type InProcessHallmark } from './helpers/in-process.js';
import { deviceCsrs } from './helpers/device-csrs.js';
import { hallmark, hallmarkJson } from './helpers/cli.js';
import { mustRun, run } from './helpers/run.js';
import { addStation, type StationRow } from '../src/factory/stations.js';
import { provisionBatch } from '../src/factory/provision-batch.js';
import type { Provisioned, ProvisionItem } from '../src/factory/provision.js';
import { toPem } from '../src/x509/pem.js';
import { sequenced } from './helpers/sequenced.js';

let home: TestHome;
before(async () => {
  home = await makeTestHome(['fab-sqlite', 'fab-postgres']);
});
after(() => home?.cleanup());

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  const token = `fab-${backend.name}`;
  describe(`factory line on ${backend.name}`, () => {
    let hm: InProcessHallmark;
    let dir: string;
    let env: NodeJS.ProcessEnv;
    let station: Awaited<ReturnType<typeof addStation>>;
    let rootFile: string;
    let issuingFile: string;

    before(async () => {
      hm = await startInProcess(home, backend, token);
      dir = fs.mkdtempSync(path.join(home.home, `fab-${backend.name}-`));
      env = { ...home.env, HALLMARK_HOME: path.join(home.home, `data-${token}`), HALLMARK_PKCS11_TOKEN: token };
      if (backend.url) env.DATABASE_URL = urlWithSchema(backend);
      const created = await hallmarkJson(env, 'station', 'add', '--line', 'line-a', '--name', 'st-a1');
      station = created;
      rootFile = path.join(dir, 'root.pem');
      issuingFile = path.join(dir, 'issuing.pem');
      fs.writeFileSync(rootFile, hm.rootPem);
      fs.writeFileSync(issuingFile, toPem(hm.running.issue.issuers.get('issuing').certificate, 'CERTIFICATE'));
    });
    after(async () => {
      await hm?.close();
      await backend.cleanup();
    });

    const provision = (body: unknown, tokenOrCert: { token?: string; cert?: string; key?: string } = { token: station.apiKey }) => hm.request('POST', 'factory/provision', { ...tokenOrCert, body });
    const device = (serial: string, csr: string) => ({ deviceSerial: serial, model: 'M-1', lot: 'LOT-7', firmwareVersion: '1.0.3', csr });
    const count = async (table: string) => Number((await sql(hm.ctx.store)(table).count({ n: '*' }))[0]!.n);

    test('station add prints its credentials; station list shows it', async () => {
      assert.equal(station.name, 'st-a1');
      assert.equal(station.line, 'line-a');
      assert.match(station.apiKey, /^hmk_/);
      assert.ok(fs.existsSync(station.certFile!) && fs.existsSync(station.keyFile!));
      assert.equal(fs.statSync(station.keyFile!).mode & 0o077, 0, 'the key file is private');
      const list = await hallmarkJson(env, 'station', 'list');
      assert.deepEqual(list.map((s: { name: string }) => s.name), ['st-a1']);
    });

    test('a station provisions 1,000 devices in one batch; all verify with openssl; serials and ids distinct', async () => {
      const csrs = await deviceCsrs(1000, (i) => `FAB-${backend.name}-${i}`);
      const started = Date.now();
      const r = await hm.request('POST', 'factory/provision/batch', { token: station.apiKey, body: { devices: csrs.map((c, i) => device(`FAB-${backend.name}-${i}`, c.csr)) } });
      assert.equal(r.status, 200, r.body.slice(0, 500));
      const { results } = r.json();
      assert.equal(results.length, 1000);
      assert.ok(results.every((x: { error?: unknown }) => !x.error), JSON.stringify(results.find((x: { error?: unknown }) => x.error)));
      assert.equal(new Set(results.map((x: { serial: string }) => x.serial)).size, 1000);
      assert.deepEqual(results.map((x: { deviceSerial: string }) => x.deviceSerial), csrs.map((_, i) => `FAB-${backend.name}-${i}`), 'in the order given');
      const files = results.map((x: { certificate: string }, i: number) => {
        const file = path.join(dir, `batch-${i}.pem`);
        fs.writeFileSync(file, x.certificate);
        return file;
      });
      const verified = await mustRun('openssl', ['verify', '-purpose', 'sslclient', '-CAfile', rootFile, '-untrusted', issuingFile, ...files]);
      assert.equal(verified.trim().split('\n').filter((l) => l.endsWith(': OK')).length, 1000);
      for (let i = 0; i < 1000; i += 97) {
        const cert = new X509Certificate(results[i].certificate);
        assert.ok(cert.publicKey.export({ format: 'der', type: 'spki' }).equals(csrs[i]!.spki), 'each certificate carries its device key');
        assert.match(cert.subject, new RegExp(`CN=FAB-${backend.name}-${i}\\b`));
      }
      assert.equal(Number((await sql(hm.ctx.store)('devices').where({ line: 'line-a' }).count({ n: '*' }))[0]!.n), 1000);
      console.log(`1,000 devices in ${Date.now() - started} ms (${backend.name})`);
    });

    test('two batches racing for the same devices: each device gets one identity, both callers get it, nothing left pending', async () => {
      const shared = await deviceCsrs(20, (i) => `RACE-${backend.name}-S${i}`);
      const own = await deviceCsrs(40, (i) => `RACE-${backend.name}-${i < 20 ? 'A' : 'B'}${i}`);
      const item = (serial: string, csr: string): ProvisionItem => device(serial, csr);
      const sharedItems = shared.map((c, i) => item(`RACE-${backend.name}-S${i}`, c.csr));
      const batchA = [...sharedItems, ...own.slice(0, 20).map((c, i) => item(`RACE-${backend.name}-A${i}`, c.csr))];
      const batchB = [...own.slice(20).map((c, i) => item(`RACE-${backend.name}-B${i + 20}`, c.csr)), ...sharedItems];
      const row = (await sql(hm.ctx.store)('stations').where({ name: 'st-a1' }).first()) as StationRow;
      const deps = { store: hm.ctx.store, audit: hm.ctx.audit, issue: hm.running.issue, revocation: hm.running.revocation };
      // B reads which devices are known, then A runs from start to end, then B goes on: B's reservation
      // is refused by the unique key, rolled back with its intents, and its devices take the one-by-one path.
      let bHasLooked!: () => void;
      let aIsDone!: () => void;
      const looked = new Promise<void>((resolve) => (bHasLooked = resolve));
      const done = new Promise<void>((resolve) => (aIsDone = resolve));
      let gated = false;
      const gatedDb = new Proxy(sql(hm.ctx.store), {
        apply(target, thisArg, args) {
          const query = Reflect.apply(target, thisArg, args);
          if (args[0] === 'devices' && !gated) {
            gated = true;
            const then = query.then.bind(query);
            query.then = (onFulfilled: (rows: unknown) => unknown, onRejected: (e: unknown) => unknown) =>
              then((rows: unknown) => {
                bHasLooked();
                return done.then(() => rows);
              }).then(onFulfilled, onRejected);
          }
          return query;
        },
      });
      const pendingB = provisionBatch({ ...deps, store: asStore(gatedDb) }, row, batchB, 'test-b');
      await looked;
      const a = await provisionBatch(deps, row, batchA, 'test-a');
      aIsDone();
      const b = await pendingB;
      for (const outcome of [...a, ...b]) assert.ok(!(outcome instanceof Error), String(outcome));
      const bySerial = new Map<string, string>();
      for (const outcome of [...a, ...b] as Provisioned[]) {
        const seen = bySerial.get(outcome.deviceSerial);
        if (seen) assert.equal(outcome.serial, seen, `${outcome.deviceSerial}: both callers get the same identity`);
        bySerial.set(outcome.deviceSerial, outcome.serial);
      }
      assert.equal(bySerial.size, 60);
      const identities = [...bySerial.keys()];
      const certificates = await sql(hm.ctx.store)('certificates').whereIn('identity', identities);
      assert.deepEqual(
        certificates.map((c) => c.status),
        identities.map(() => 'active'),
        'one certificate per device, none pending or failed',
      );
      const devices = await sql(hm.ctx.store)('devices').whereIn('serial', identities);
      assert.ok(devices.every((d) => d.state === 'provisioned' && d.certificate_serial === bySerial.get(d.serial)));
      assert.equal(Number((await sql(hm.ctx.store)('manufacturing_records').whereIn('device_serial', identities).count({ n: '*' }))[0]!.n), 60);
    });

    test('a retried request returns the identical certificate; a second key for the serial is refused until reprovision, which revokes the old identity', async () => {
      const [first, second, third] = await deviceCsrs(3, () => 'DEV-RETRY');
      const a = await provision(device('DEV-RETRY', first!.csr));
      assert.equal(a.status, 201, a.body);
      const b = await provision(device('DEV-RETRY', first!.csr));
      assert.equal(b.status, 200);
      assert.equal(b.json().certificate, a.json().certificate);
      assert.equal(b.json().repeated, true);
      const before = await count('certificates');
      const other = await provision(device('DEV-RETRY', second!.csr));
      assert.equal(other.status, 409);
      assert.match(other.body, /already has a factory identity/);
      assert.equal(await count('certificates'), before);
      const allowed = await hallmark(env, 'device', 'reprovision', 'DEV-RETRY');
      assert.equal(allowed.code, 0, allowed.stderr);
      const c = await provision(device('DEV-RETRY', third!.csr));
      assert.equal(c.status, 201, c.body);
      const old = await sql(hm.ctx.store)('certificates').where({ serial: a.json().serial }).first();
      assert.equal(old.status, 'revoked');
      assert.equal(old.revocation_reason, 'superseded');
      const shown = await hallmarkJson(env, 'device', 'show', 'DEV-RETRY');
      assert.equal(shown.certificateSerial, c.json().serial);
      assert.equal(shown.records.length, 2, 'both provisioning events are on record');
    });

    test('a station outside its profile or its line, no credential, a disabled station: refused, nothing written', async () => {
      const [csr] = await deviceCsrs(1, () => 'DEV-X');
      const certificates = await count('certificates');
      const devices = await count('devices');
      const profile = await provision({ ...device('DEV-X', csr!.csr), profile: 'tls-server' });
      assert.equal(profile.status, 403);
      const b = await addStation({ store: hm.ctx.store, audit: hm.ctx.audit, issue: hm.running.issue }, { name: 'st-b1', line: 'line-b', profiles: ['device'], quotaPerHour: 100, actor: 'test', dir });
      const [retryCsr] = await deviceCsrs(1, () => 'DEV-RETRY');
      const otherLine = await provision(device('DEV-RETRY', retryCsr!.csr), { token: b.apiKey });
      assert.equal(otherLine.status, 403);
      assert.match(otherLine.body, /belongs to line line-a/);
      assert.equal((await hm.request('POST', 'factory/provision', { body: device('DEV-X', csr!.csr) })).status, 401);
      const viaCert = await provision(device('DEV-CERT', csr!.csr.replace('DEV-X', 'DEV-X')), { cert: b.credentials.certificate, key: b.credentials.privateKey });
      assert.equal(viaCert.status, 400, 'the CSR names DEV-X, not DEV-CERT');
      const disabled = await hallmark(env, 'station', 'disable', 'st-b1');
      assert.equal(disabled.code, 0, disabled.stderr);
      await hm.running.poll();
      assert.equal((await provision(device('DEV-X', csr!.csr), { token: b.apiKey })).status, 401, 'API key refused at once');
      assert.equal((await provision(device('DEV-X', csr!.csr), { cert: b.credentials.certificate, key: b.credentials.privateKey })).status, 401, 'certificate refused at once');
      assert.equal(await count('devices'), devices);
      assert.equal(await count('certificates'), certificates + 1, 'only station st-b1\'s own certificate');
    });

    test('keygen: the key comes back encrypted, decrypts with the one-time secret, matches the certificate, and is stored nowhere', async () => {
      const r = await provision({ deviceSerial: 'DEV-KEYGEN', model: 'M-2', lot: 'LOT-8', firmwareVersion: '2.0.0', keygen: true });
      assert.equal(r.status, 201, r.body);
      const { encryptedKey, keyPassphrase, certificate } = r.json();
      assert.match(encryptedKey, /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
      const keyFile = path.join(dir, 'keygen.key');
      fs.writeFileSync(keyFile, encryptedKey);
      const wrong = await run('openssl', ['pkey', '-in', keyFile, '-passin', 'pass:not-the-secret', '-noout']);
      assert.notEqual(wrong.code, 0);
      const clear = await mustRun('openssl', ['pkey', '-in', keyFile, '-passin', `pass:${keyPassphrase}`]);
      const certFile = path.join(dir, 'keygen.pem');
      fs.writeFileSync(certFile, certificate);
      fs.writeFileSync(`${keyFile}.clear`, clear);
      assert.equal(await mustRun('openssl', ['pkey', '-in', `${keyFile}.clear`, '-pubout']), await mustRun('openssl', ['x509', '-in', certFile, '-noout', '-pubkey']));
      const scalar = Buffer.from((await mustRun('openssl', ['pkey', '-in', `${keyFile}.clear`, '-noout', '-text'])).split('pub:')[0]!.split('priv:')[1]!.replace(/[\s:]/g, ''), 'hex');
      for (const table of ['certificates', 'devices', 'manufacturing_records', 'audit_events', 'audit_pending']) {
        for (const row of await sql(hm.ctx.store)(table).select('*')) {
          for (const value of Object.values(row)) {
            if (Buffer.isBuffer(value)) assert.equal(value.indexOf(scalar), -1, `${table} holds the key`);
            else if (typeof value === 'string') assert.ok(!value.includes(scalar.toString('hex')) && !value.includes(keyPassphrase), `${table} holds the key or its secret`);
          }
        }
      }
      assert.equal((await provision({ deviceSerial: 'DEV-KEYGEN', model: 'M-2', lot: 'LOT-8', firmwareVersion: '2.0.0', keygen: true })).status, 409, 'a server-made key cannot be handed out twice');
    });

    test('per-item errors in a batch: invalid serials and malformed CSRs; a batch over 1,000 is refused', async () => {
      const [good, badName] = await deviceCsrs(2, (i) => (i ? 'bad serial with spaces' : 'DEV-GOOD-1'));
      const r = await hm.request('POST', 'factory/provision/batch', {
        token: station.apiKey,
        body: { devices: [device('bad serial with spaces', badName!.csr), device('DEV-GOOD-1', good!.csr), device('DEV-BROKEN', '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----'), { deviceSerial: 'DEV-NOFIELDS' }] },
      });
      assert.equal(r.status, 200);
      const [bad, ok, broken, missing] = r.json().results;
      assert.equal(bad.error.code, 'policy_violation');
      assert.ok(ok.serial);
      assert.equal(broken.error.code, 'csr_invalid');
      assert.equal(missing.error.code, 'invalid_request');
      assert.equal(missing.deviceSerial, 'DEV-NOFIELDS');
      const over = await hm.request('POST', 'factory/provision/batch', { token: station.apiKey, body: { devices: Array.from({ length: 1001 }, () => ({})) } });
      assert.equal(over.status, 400);
      assert.match(over.body, /at most 1000/);
    });

    test('quota: over its hourly quota a station gets 429 and the refusal is audited', async () => {
      const q = await addStation({ store: hm.ctx.store, audit: hm.ctx.audit, issue: hm.running.issue }, { name: 'st-q', line: 'line-q', profiles: ['device'], quotaPerHour: 2, actor: 'test', dir });
      const csrs = await deviceCsrs(3, (i) => `DEV-Q-${i}`);
      assert.equal((await provision(device('DEV-Q-0', csrs[0]!.csr), { token: q.apiKey })).status, 201);
      assert.equal((await provision(device('DEV-Q-1', csrs[1]!.csr), { token: q.apiKey })).status, 201);
      const third = await provision(device('DEV-Q-2', csrs[2]!.csr), { token: q.apiKey });
      assert.equal(third.status, 429);
      // RFC 6585 §4: when to come back — when the oldest of the hour's provisionings leaves the window.
      const retryAfter = Number(third.headers['retry-after']);
      assert.ok(retryAfter > 3000 && retryAfter <= 3600, `Retry-After ${third.headers['retry-after']}`);
      assert.ok(await sql(await sequenced(hm.ctx.store))('audit_events').where({ action: 'factory.quota', target: 'st-q' }).first());
    });

    test('inventory: device list, export as CSV and JSON lines, report per lot and line', async () => {
      const list = await hallmarkJson(env, 'device', 'list', '--lot', 'LOT-7');
      assert.ok(list.length >= 1000);
      const csv = path.join(dir, 'devices.csv');
      assert.equal((await hallmark(env, 'device', 'export', '--format', 'csv', '--out', csv)).code, 0);
      const lines = fs.readFileSync(csv, 'utf8').trim().split('\n');
      assert.equal(lines[0], 'serial,state,line,station,model,lot,firmwareVersion,profile,certificateSerial,serverKeygen,provisionedAt');
      assert.equal(lines.length - 1, await count('devices'));
      const jsonl = await hallmark(env, 'device', 'export');
      assert.equal(jsonl.stdout.trim().split('\n').length, await count('devices'));
      const report = await hallmarkJson(env, 'device', 'report');
      assert.ok(report.some((r: { line: string; lot: string; devices: number }) => r.line === 'line-a' && r.lot === 'LOT-7' && r.devices >= 1000));
    });
  });
}
