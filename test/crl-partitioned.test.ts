import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { BACKENDS, urlWithSchema } from './helpers/backends.js';
import { configCopy, startInProcess, writeChainFiles, type InProcessHallmark } from './helpers/in-process.js';
import { opensslCsr } from './helpers/csr.js';
import { mustRun, run } from './helpers/run.js';
import { hallmark } from './helpers/cli.js';
import { freePort } from './helpers/ports.js';
import { startBroker } from './helpers/mosquitto.js';
import { issueCertificate } from '../src/ca/issue.js';
import { sql } from '../src/store/handle.js';

/**
 * Partitioned CRLs (RFC 5280 §5.2.5) and delta CRLs (§5.2.4) as relying parties nobody here wrote use
 * them: `openssl verify -crl_check` matches a shard's issuing distribution point against the
 * certificate's CRL distribution point, `-use_deltas` applies a delta to its base, and Mosquitto
 * takes a shard as its crlfile.
 */
const SHARDS = 4;
let home: TestHome;
before(async () => {
  home = await makeTestHome(['shard-sqlite', 'shard-postgres']);
});
after(() => home?.cleanup());

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`partitioned and delta CRLs on ${backend.name}`, () => {
    let hm: InProcessHallmark;
    let dir: string;
    let rootFile: string;
    let issuingFile: string;
    let chainFile: string;
    let admin: string;
    let base: string;
    let broker: ChildProcess | undefined;
    let cliEnv: NodeJS.ProcessEnv;
    /** The public base URL as certificates and CRLs name it, as a pattern. */
    let published: string;
    const devices: { serial: string; file: string; keyFile: string; shard: number }[] = [];

    before(async () => {
      const configFile = configCopy(path.join(home.home, `config-${backend.name}`), (c) => {
        c.revocation = { crl: { validityHours: 24, refreshAfterHours: 12, coalesceMs: 100 }, ocsp: { validityMinutes: 60, refreshBeforeMinutes: 10, pollSeconds: 1 } };
        c.cas.find((ca: { name: string }) => ca.name === 'issuing').crl = { shards: SHARDS, deltas: true };
      });
      const token = `shard-${backend.name}`;
      hm = await startInProcess(home, backend, token, { configFile });
      cliEnv = { ...home.env, HALLMARK_HOME: path.join(home.home, `data-${token}`), HALLMARK_PKCS11_TOKEN: token, HALLMARK_CONFIG: configFile };
      if (backend.url) cliEnv.DATABASE_URL = urlWithSchema(backend);
      admin = hm.init.admin.apiKey;
      base = `http://127.0.0.1:${hm.running.http}`;
      published = hm.ctx.config.publicBaseUrl.replace(/[.:/]/g, (c) => `\\${c}`);
      dir = fs.mkdtempSync(path.join(home.home, 'shard-'));
      ({ rootFile, issuingFile, chainFile } = writeChainFiles(hm, dir));
      // Enough devices that every shard has two with near certainty (the shard is the serial's).
      for (let i = 0; i < 24; i++) {
        const { csrPem, keyFile } = await opensslCsr(dir);
        const issued = await issueCertificate(hm.running.issue, { csr: csrPem, profile: 'device', identity: `shard-dev-${i}`, requester: { kind: 'cli' as const }, actor: 'test' });
        const file = path.join(dir, `dev-${i}.pem`);
        fs.writeFileSync(file, issued.certificate);
        const row = await sql(hm.ctx.store)('certificates').where({ serial: issued.serial }).first();
        devices.push({ serial: issued.serial, file, keyFile, shard: Number(row.crl_shard) });
      }
    });
    after(async () => {
      broker?.kill('SIGKILL');
      await hm?.close();
      await backend.cleanup();
    });

    const inShard = (shard: number) => devices.filter((d) => d.shard === shard);

    /** A served CRL as PEM, with its number and text. */
    async function fetchCrl(urlPath: string) {
      const der = path.join(dir, `${urlPath.replace(/\W/g, '_')}-${Date.now()}.der`);
      await mustRun('curl', ['-sSf', '-o', der, `${base}${urlPath}`]);
      const file = der.replace(/\.der$/, '.pem');
      await mustRun('openssl', ['crl', '-inform', 'DER', '-in', der, '-out', file]);
      const text = await mustRun('openssl', ['crl', '-in', file, '-noout', '-text']);
      return { file, text, number: parseInt(/X509v3 CRL Number:\s*\n\s*(\d+)/.exec(text)![1]!, 10) };
    }

    /** Waits for a CRL at `urlPath` numbered above `above` whose text matches `pattern`. */
    async function awaitCrl(urlPath: string, above: number, pattern: RegExp) {
      for (let i = 0; i < 100; i++) {
        const crl = await fetchCrl(urlPath);
        if (crl.number > above && pattern.test(crl.text)) return crl;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`no CRL at ${urlPath} above #${above} matching ${pattern}`);
    }

    const verify = (cert: string, crls: string[], extra: string[] = []) =>
      run('openssl', ['verify', '-crl_check', ...extra, ...crls.flatMap((c) => ['-CRLfile', c]), '-CAfile', rootFile, '-untrusted', issuingFile, cert]);

    test('each certificate names its shard, chosen at issuance and stored; shards are spread', async () => {
      for (const d of devices) {
        assert.ok(d.shard >= 0 && d.shard < SHARDS, `shard ${d.shard}`);
        const text = await mustRun('openssl', ['x509', '-in', d.file, '-noout', '-ext', 'crlDistributionPoints']);
        assert.match(text, new RegExp(`URI:${published}/crl/issuing/${d.shard}\\.crl`));
      }
      assert.ok(new Set(devices.map((d) => d.shard)).size >= 2, 'more than one shard is used');
    });

    test('every shard and the whole CRL are served, signed, with the issuing distribution point and a freshest CRL pointer', async () => {
      for (let shard = 0; shard < SHARDS; shard++) {
        const crl = await fetchCrl(`/crl/issuing/${shard}.crl`);
        await mustRun('openssl', ['crl', '-in', crl.file, '-CAfile', chainFile, '-noout']);
        assert.match(crl.text, /Issuing Distribution Point: critical/);
        assert.match(crl.text, new RegExp(`URI:${published}/crl/issuing/${shard}\\.crl`));
        assert.match(crl.text, /Only User Certificates/);
        assert.match(crl.text, new RegExp(`Freshest CRL:[\\s\\S]*URI:${published}/crl/issuing/${shard}-delta\\.crl`));
        assert.doesNotMatch(crl.text, /Delta CRL Indicator/);
      }
      const whole = await fetchCrl('/crl/issuing.crl');
      assert.doesNotMatch(whole.text, /Issuing Distribution Point/);
      assert.match(whole.text, new RegExp(`URI:${published}/crl/issuing/delta\\.crl`));
      const missing = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `${base}/crl/issuing/${SHARDS}.crl`]);
      assert.equal(missing.stdout, '404', 'no shard beyond the count');
      const unsharded = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `${base}/crl/root/0.crl`]);
      assert.equal(unsharded.stdout, '404', 'a CA without shards has none');
      const ready = await run('curl', ['-s', `${base}/readyz`]);
      assert.match(ready.stdout, /"crl":"ok"/);
    });

    test('a revocation signs deltas: openssl -use_deltas refuses the certificate, a shard does not cover another shard\'s certificate', async () => {
      const shard = devices.find((d) => inShard(d.shard).length >= 2)!.shard;
      const [victim, neighbour] = inShard(shard);
      const other = devices.find((d) => d.shard !== shard)!;
      const complete = await fetchCrl(`/crl/issuing/${shard}.crl`);
      const revoked = await hm.request('POST', `certificates/${victim!.serial}/revoke`, { token: admin, body: { reason: 'keyCompromise' } });
      assert.equal(revoked.status, 200, revoked.body);
      const delta = await awaitCrl(`/crl/issuing/${shard}-delta.crl`, complete.number, new RegExp(victim!.serial.toUpperCase()));
      assert.match(delta.text, /Delta CRL Indicator: critical\s*\n\s*(\d+)/);
      assert.equal(Number(/Delta CRL Indicator: critical\s*\n\s*(\d+)/.exec(delta.text)![1]), complete.number, 'the delta names the complete CRL as its base');
      assert.match(delta.text, /Issuing Distribution Point: critical/, 'a delta has its base\'s scope');
      assert.doesNotMatch(delta.text, /Freshest CRL/);
      assert.match(delta.text, /Key Compromise/);
      await mustRun('openssl', ['crl', '-in', delta.file, '-CAfile', chainFile, '-noout']);

      // The complete shard alone predates the revocation; with its delta the certificate is revoked.
      assert.equal((await verify(victim!.file, [complete.file])).code, 0);
      const refused = await verify(victim!.file, [complete.file, delta.file], ['-use_deltas']);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stdout + refused.stderr, /certificate revoked/);
      const fine = await verify(neighbour!.file, [complete.file, delta.file], ['-use_deltas']);
      assert.equal(fine.code, 0, fine.stdout + fine.stderr);
      // A shard's CRL is not a CRL for a certificate of another shard (its IDP does not match the CDP).
      const outOfScope = await verify(other.file, [complete.file]);
      assert.notEqual(outOfScope.code, 0);
      assert.match(outOfScope.stdout + outOfScope.stderr, /different CRL scope/);
      const ownShard = await fetchCrl(`/crl/issuing/${other.shard}.crl`);
      assert.equal((await verify(other.file, [ownShard.file])).code, 0);

      // The whole CRL's delta has it too, and the other shards' deltas do not.
      const wholeDelta = await awaitCrl('/crl/issuing/delta.crl', 0, new RegExp(victim!.serial.toUpperCase()));
      const whole = await fetchCrl('/crl/issuing.crl');
      const viaWhole = await verify(victim!.file, [whole.file, wholeDelta.file], ['-use_deltas']);
      assert.match(viaWhole.stdout + viaWhole.stderr, /certificate revoked/);
      const otherDelta = await fetchCrl(`/crl/issuing/${other.shard}-delta.crl`);
      assert.doesNotMatch(otherDelta.text, new RegExp(victim!.serial.toUpperCase()));

      // hallmark crl generate signs the complete shard: now it lists the certificate without a delta.
      const out = path.join(dir, `shard-${shard}.pem`);
      const generated = await hallmark(cliEnv, 'crl', 'generate', '--ca', 'issuing', '--shard', String(shard), '--out', out, '--json');
      assert.equal(generated.code, 0, generated.stderr);
      const [result] = JSON.parse(generated.stdout);
      assert.equal(result.shard, shard);
      assert.equal(result.kind, 'complete');
      assert.equal(result.entries, 1);
      const alone = await verify(victim!.file, [out]);
      assert.match(alone.stdout + alone.stderr, /certificate revoked/);
    });

    test('a release from hold is removeFromCRL in the next delta; openssl applies it', async () => {
      const shard = devices.find((d) => inShard(d.shard).length >= 2)!.shard;
      const held = inShard(shard)[1]!;
      assert.equal((await hm.request('POST', `certificates/${held.serial}/revoke`, { token: admin, body: { reason: 'certificateHold' } })).status, 200);
      const heldDelta = await awaitCrl(`/crl/issuing/${shard}-delta.crl`, 0, new RegExp(`${held.serial.toUpperCase()}[\\s\\S]*?Certificate Hold`));
      // A complete shard CRL with the hold in it, as a relying party would have fetched it.
      const out = path.join(dir, `held-${shard}.pem`);
      assert.equal((await hallmark(cliEnv, 'crl', 'generate', '--ca', 'issuing', '--shard', String(shard), '--out', out)).code, 0);
      const completeText = await mustRun('openssl', ['crl', '-in', out, '-noout', '-text']);
      const completeNumber = parseInt(/X509v3 CRL Number:\s*\n\s*(\d+)/.exec(completeText)![1]!, 10);
      assert.match((await verify(held.file, [out])).stdout + (await verify(held.file, [out])).stderr, /certificate revoked/);
      const released = await hm.request('POST', `certificates/${held.serial}/release`, { token: admin });
      assert.equal(released.status, 200, released.body);
      const delta = await awaitCrl(`/crl/issuing/${shard}-delta.crl`, Math.max(heldDelta.number, completeNumber), new RegExp(`${held.serial.toUpperCase()}[\\s\\S]*?Remove From CRL`));
      assert.equal(Number(/Delta CRL Indicator: critical\s*\n\s*(\d+)/.exec(delta.text)![1]), completeNumber);
      const back = await verify(held.file, [out, delta.file], ['-use_deltas']);
      assert.equal(back.code, 0, back.stdout + back.stderr);
    });

    test('hallmark lint passes a shard and a delta; the audit log names the scope', async () => {
      const shard = devices[0]!.shard;
      for (const urlPath of [`/crl/issuing/${shard}.crl`, `/crl/issuing/${shard}-delta.crl`]) {
        const crl = await fetchCrl(urlPath);
        const linted = await hallmark(cliEnv, 'lint', crl.file, '--issuer', issuingFile, '--json');
        assert.equal(linted.code, 0, linted.stdout + linted.stderr);
      }
      const entry = await sql(hm.ctx.store)('audit_events').where({ action: 'crl.generate', target: `issuing/${shard}` }).first();
      assert.ok(entry, 'a shard\'s CRL is audited under its scope');
    });

    if (backend.name === 'sqlite') {
      test('Mosquitto takes a shard as its crlfile: the revoked device is refused, its neighbour connects', async () => {
        const shard = devices.find((d) => inShard(d.shard).length >= 2)!.shard;
        const [revokedDevice] = inShard(shard);
        const neighbour = inShard(shard).find((d) => d !== revokedDevice)!;
        const mqtt = fs.mkdtempSync(path.join(home.home, 'mqtt-shard-'));
        fs.copyFileSync(chainFile, path.join(mqtt, 'chain.pem'));
        const server = await opensslCsr(mqtt, { subject: '/CN=localhost', addext: ['subjectAltName=DNS:localhost,IP:127.0.0.1'] });
        const serverCert = await issueCertificate(hm.running.issue, { csr: server.csrPem, profile: 'tls-server', requester: { kind: 'cli' as const }, actor: 'test' });
        fs.writeFileSync(path.join(mqtt, 'broker.pem'), serverCert.certificate + fs.readFileSync(issuingFile, 'utf8'));
        fs.copyFileSync(server.keyFile, path.join(mqtt, 'broker.key'));
        // The complete shard, signed after the earlier test revoked the device.
        assert.equal((await hallmark(cliEnv, 'crl', 'generate', '--ca', 'issuing', '--shard', String(shard), '--out', path.join(mqtt, 'shard.pem'))).code, 0);
        const port = await freePort();
        broker = await startBroker(mqtt, port, 'shard.pem');
        const publish = (d: { file: string; keyFile: string }) =>
          run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '--cafile', path.join(mqtt, 'chain.pem'), '--cert', d.file, '--key', d.keyFile, '-t', 'devices/x', '-m', 'hello', '-q', '1']);
        const accepted = await publish(neighbour);
        assert.equal(accepted.code, 0, `a device of the shard that was not revoked connects: ${accepted.stderr}`);
        const refused = await publish(revokedDevice!);
        assert.notEqual(refused.code, 0, 'the revoked device is refused');
        for (let i = 0; i < 50 && !/certificate verify failed/.test(fs.readFileSync(path.join(mqtt, 'broker.log'), 'utf8')); i++) await new Promise((r) => setTimeout(r, 100));
        assert.match(fs.readFileSync(path.join(mqtt, 'broker.log'), 'utf8'), /certificate verify failed/, 'refused by the TLS layer');

        // Every shard in one crlfile, for a broker that serves devices of all shards.
        const all: string[] = [];
        for (let k = 0; k < SHARDS; k++) all.push(fs.readFileSync((await fetchCrl(`/crl/issuing/${k}.crl`)).file, 'utf8'));
        all[shard] = fs.readFileSync(path.join(mqtt, 'shard.pem'), 'utf8');
        fs.writeFileSync(path.join(mqtt, 'shards.pem'), all.join(''));
        broker.kill('SIGTERM');
        await new Promise((r) => broker!.once('exit', r));
        broker = await startBroker(mqtt, port, 'shards.pem');
        assert.notEqual((await publish(revokedDevice!)).code, 0, 'the revoked device is refused with every shard loaded');
        for (const d of [neighbour, devices.find((x) => x.shard !== shard)!]) {
          const ok = await publish(d);
          assert.equal(ok.code, 0, `a device that was not revoked connects (shard ${d.shard}): ${ok.stderr}`);
        }
      });
    }
  });
}
