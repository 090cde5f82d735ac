import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { BACKENDS } from './helpers/backends.js';
import { configCopy, manualClock, startInProcess, writeChainFiles, type InProcessHallmark } from './helpers/in-process.js';
import { cliEnv, hallmark, hallmarkJson } from './helpers/cli.js';
import { mustRun, run } from './helpers/run.js';
import { activate, answerFor, certifyCreation, evidence, makeKey, makeTpm, TLS_HANDLE, TPM_PROVIDER, tpmB64 as b64, tpmTools as tools, type Tpm } from './helpers/swtpm.js';
import { opensslCsr } from './helpers/csr.js';
import { startBroker } from './helpers/mosquitto.js';
import { issueCertificate } from '../src/ca/issue.js';
import { sql } from '../src/store/handle.js';
import { toPem } from '../src/x509/pem.js';

/**
 * TPM-attested enrollment (docs/tpm-attestation.md) with a software TPM (swtpm, behind tpm2-abrmd) and
 * tpm2-tools, nobody's code here: a device with its one-time secret and a factory station each get a
 * certificate for a key that lives in the TPM (credential activation against the EK the manufacturer
 * certified, TPM2_CertifyCreation of the key by the AK over Hallmark's nonce); then openssl's tpm2
 * provider does mutual TLS with that key to Hallmark (recognised as the device) and to Mosquitto. Each
 * refusal (an unknown manufacturer, another nonce, a key that can leave the TPM, an AK the TPM cannot
 * activate for, a swapped key, a replayed or expired challenge, a TPM bound to another identity, a CSR
 * for a profile that requires attestation) says why and issues nothing.
 */

let home: TestHome;
let root: string;
let trusted: Tpm;
let station: Tpm;
let unknownMaker: Tpm;
before(async () => {
  home = await makeTestHome(['tpm-sqlite', 'tpm-postgres']);
  root = fs.mkdtempSync(path.join(home.home, 'tpms-'));
  [trusted, station, unknownMaker] = await Promise.all([makeTpm(root, 'trusted'), makeTpm(root, 'station'), makeTpm(root, 'unknown')]);
  await makeKey(trusted, 'device');
  await makeKey(trusted, 'other');
  await makeKey(trusted, 'movable', 'sensitivedataorigin|userwithauth|sign');
  await makeKey(station, 'device');
  await makeKey(unknownMaker, 'device');
  // The device keeps its key at a persistent handle, where openssl's tpm2 provider finds it for TLS.
  await tools(trusted, 'tpm2_evictcontrol', ['-C', 'o', '-c', 'device.ctx', TLS_HANDLE]);
});
after(async () => {
  await Promise.all([trusted, station, unknownMaker].map((t) => t?.soft.stop()));
  home?.cleanup();
});

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`TPM-attested enrollment on ${backend.name}`, () => {
    let hm: InProcessHallmark;
    let env: NodeJS.ProcessEnv;
    let dir: string;
    let files: ReturnType<typeof writeChainFiles>;
    let stationKey: string;
    const clock = manualClock();
    const token = `tpm-${backend.name}`;
    const secretFor = async (device: string) => (await hallmarkJson(env, 'token', 'create', '--device', device, '--label', 'tpm')).secret as string;
    const post = (apiPath: string, body: unknown, auth: { token?: string } = {}) => hm.request('POST', apiPath, { body, ...auth });
    /** Audit entries of an action, chained or still pending. */
    const audited = async (action: string, target: string) => [...(await sql(hm.ctx.store)('audit_events').where({ action, target })), ...(await sql(hm.ctx.store)('audit_pending').where({ action, target }))];
    const issuedTo = async (identity: string) => Number((await sql(hm.ctx.store)('certificates').where({ identity }).count({ n: '*' }))[0]!.n);
    /** A device's step 1 with its one-time secret. */
    const challenge = async (device: string, secret: string, tpm: Tpm, key: string, options: { ak?: Tpm } = {}) => post('attestation/challenges', { device, secret, label: 'tpm', ...evidence(tpm, key, options) });

    before(async () => {
      // The TPMs' EK certificates were made just now (valid from this second on).
      clock.set(new Date());
      dir = fs.mkdtempSync(path.join(home.home, `${token}-`));
      const configFile = configCopy(path.join(dir, 'config'), (c) => {
        // The manufacturers trusted: those of two of the three TPMs (roots and intermediates).
        c.attestation = { tpmRoots: [...trusted.soft.caFiles, ...station.soft.caFiles] };
        c.est = { ...(c.est ?? {}), labels: { default: { profile: 'device', enroll: ['token'] }, tpm: { profile: 'device-tpm', enroll: ['token'] } } };
      });
      hm = await startInProcess(home, backend, token, { clock, configFile });
      env = { ...(await cliEnv(home, backend, token)), HALLMARK_CONFIG: configFile };
      files = writeChainFiles(hm, dir);
      stationKey = (await hallmarkJson(env, 'station', 'add', '--line', 'line-t', '--name', `st-${backend.name}`, '--profiles', 'device-tpm,device')).apiKey;
    });
    after(async () => {
      await hm?.close();
      await backend.cleanup();
    });

    test('a device enrolls with its one-time secret: the certificate is for the TPM key, names the TPM (HardwareModuleName), and the TPM is bound to it', async () => {
      const secret = await secretFor('tpm-dev-1');
      const r = await challenge('tpm-dev-1', secret, trusted, 'device');
      assert.equal(r.status, 201, r.body);
      const c = r.json();
      assert.match(c.nonce, /^[0-9a-f]{64}$/);
      assert.equal(c.ek.certified, true);
      const issued = await post('attestation/enroll', { device: 'tpm-dev-1', secret, label: 'tpm', ...(await answerFor(trusted, c, 'device')) });
      assert.equal(issued.status, 201, issued.body);
      const cert = issued.json();
      assert.equal(cert.profile, 'device-tpm');
      const pem = path.join(dir, 'tpm-dev-1.pem');
      fs.writeFileSync(pem, cert.certificate);
      assert.match(await mustRun('openssl', ['verify', '-CAfile', files.rootFile, '-untrusted', files.issuingFile, pem]), /OK/);
      // The certified key is the one in the TPM.
      const tpmKey = await mustRun('openssl', ['pkey', ...TPM_PROVIDER, '-in', `handle:${TLS_HANDLE}`, '-pubout'], { env: trusted.soft.env });
      assert.equal((await mustRun('openssl', ['x509', '-in', pem, '-noout', '-pubkey'])).trim(), tpmKey.trim());
      // The SAN's otherName is id-on-hardwareModuleName with hwType TPM 2.0 and the TCG hwSerialNum.
      // OpenSSL 3.0 does not print a HardwareModuleName: the SAN's value is parsed by asn1parse instead.
      const parsed = await mustRun('openssl', ['asn1parse', '-in', pem]);
      const sanAt = /X509v3 Subject Alternative Name\n\s*(\d+):d=\d+\s+hl=\d+ l=\s*\d+ prim: OCTET STRING/.exec(parsed);
      assert.ok(sanAt, parsed);
      const san = await mustRun('openssl', ['asn1parse', '-in', pem, '-strparse', sanAt[1]!]);
      assert.match(san, /OBJECT\s+:(Hardware Module Name|hardwareModuleName|1\.3\.6\.1\.5\.5\.7\.8\.4)/, san);
      assert.match(san, /OBJECT\s+:2\.23\.133\.1\.2/, san);
      const hwSerial = /OCTET STRING\s+:(\S+)/.exec(san)?.[1];
      assert.match(hwSerial ?? '', new RegExp(`^${c.ek.manufacturer}:[0-9a-f]+:[0-9a-f]+$`), san);
      const text = await mustRun('openssl', ['x509', '-in', pem, '-noout', '-ext', 'subjectAltName']);
      assert.match(text, /URI:urn:dev:hallmark:tpm-dev-1/);
      const binding = await sql(hm.ctx.store)('tpm_bindings').where({ identity: 'tpm-dev-1' }).first();
      assert.equal(binding.certificate_serial, cert.serial);
      assert.equal(binding.ek_id, c.ek.id);
      assert.equal((await audited('attestation.bind', 'tpm-dev-1')).length, 1, 'the binding is audited');
      // The one-time secret is spent.
      const again = await challenge('tpm-dev-1', secret, trusted, 'device');
      assert.equal(again.status, 403, again.body);
    });

    test('with the TPM key, openssl (tpm2 provider) does mutual TLS to Hallmark, which recognises the device, and to Mosquitto', async () => {
      const pem = path.join(dir, 'tpm-dev-1.pem');
      const request = 'GET /api/v1/whoami HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n';
      const https = await run('openssl', ['s_client', ...TPM_PROVIDER, '-connect', `127.0.0.1:${hm.running.https}`, '-servername', 'localhost', '-CAfile', files.rootFile, '-cert', pem, '-cert_chain', files.issuingFile, '-key', `handle:${TLS_HANDLE}`, '-ign_eof', '-quiet'], { env: trusted.soft.env, input: request, timeoutMs: 60_000 });
      const body = https.stdout.slice(https.stdout.indexOf('{'));
      assert.match(https.stdout, /HTTP\/1\.1 200/, https.stdout + https.stderr);
      const who = JSON.parse(body.slice(0, body.lastIndexOf('}') + 1));
      assert.equal(who.kind, 'certificate');
      assert.equal(who.role, 'device');
      assert.match(who.name, /tpm-dev-1/);

      if (backend.name !== 'sqlite') return; // the broker needs no second run
      const mqtt = fs.mkdtempSync(path.join(dir, 'mqtt-'));
      fs.writeFileSync(path.join(mqtt, 'chain.pem'), files.chainFile && fs.readFileSync(files.chainFile));
      const server = await opensslCsr(mqtt, { subject: '/CN=localhost', addext: ['subjectAltName=DNS:localhost,IP:127.0.0.1'] });
      const serverCert = await issueCertificate(hm.running.issue, { csr: server.csrPem, profile: 'tls-server', requester: { kind: 'cli' as const }, actor: 'test' });
      fs.writeFileSync(path.join(mqtt, 'broker.pem'), serverCert.certificate + toPem(hm.running.issue.issuers.get('issuing').certificate, 'CERTIFICATE'));
      fs.copyFileSync(server.keyFile, path.join(mqtt, 'broker.key'));
      await mustRun('curl', ['-sSf', '-o', path.join(mqtt, 'crl.der'), `http://127.0.0.1:${hm.running.http}/crl/issuing.crl`]);
      await mustRun('openssl', ['crl', '-inform', 'DER', '-in', path.join(mqtt, 'crl.der'), '-out', path.join(mqtt, 'crl.pem')]);
      const port = await freePort();
      const broker = await startBroker(mqtt, port, 'crl.pem', { tlsVersion: 'tlsv1.3', identityAsUsername: true });
      try {
        // MQTT 3.1.1 CONNECT (client id "tpm"); the broker answers CONNACK 0x20 0x02 0x00 0x00 (accepted).
        const connect = Buffer.from([0x10, 0x0f, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x03, 0x74, 0x70, 0x6d]);
        const r = await run('openssl', ['s_client', ...TPM_PROVIDER, '-connect', `127.0.0.1:${port}`, '-CAfile', files.rootFile, '-cert', pem, '-cert_chain', files.issuingFile, '-key', `handle:${TLS_HANDLE}`], { env: trusted.soft.env, input: connect, timeoutMs: 30_000 });
        const log = fs.readFileSync(path.join(mqtt, 'broker.log'), 'utf8');
        assert.match(log, /New client connected .* as tpm .*u'tpm-dev-1'/, log + r.stderr);
      } finally {
        broker.kill('SIGKILL');
      }
    });

    test('a station provisions a device with its TPM: the device record keeps the EK; the same device again is its identity; the TPM is free after re-provisioning is allowed', async () => {
      const ask = () => post('factory/attestation/challenges', { deviceSerial: 'TPM-SN-1', profile: 'device-tpm', ...evidence(station, 'device') }, { token: stationKey });
      const r = await ask();
      assert.equal(r.status, 201, r.body);
      const provision = async (c: { challenge: string; nonce: string; credential: string }) =>
        post('factory/provision', { deviceSerial: 'TPM-SN-1', model: 'M-T', lot: 'LOT-T', firmwareVersion: '1.0.0', profile: 'device-tpm', attestation: await answerFor(station, c, 'device') }, { token: stationKey });
      const first = await provision(r.json());
      assert.equal(first.status, 201, first.body);
      const shown = await hallmarkJson(env, 'device', 'show', 'TPM-SN-1');
      assert.equal(shown.tpm, r.json().ek.id);
      const repeat = await provision((await ask()).json());
      assert.equal(repeat.status, 200, repeat.body);
      assert.equal(repeat.json().repeated, true);
      assert.equal(repeat.json().serial, first.json().serial);
      // Bound: the same TPM for another device is refused, until an operator lets TPM-SN-1 be provisioned again.
      const other = await post('factory/attestation/challenges', { deviceSerial: 'TPM-SN-2', profile: 'device-tpm', ...evidence(station, 'device') }, { token: stationKey });
      assert.equal(other.status, 409, other.body);
      assert.equal(other.json().error.code, 'tpm_bound');
      await hallmark(env, 'device', 'reprovision', 'TPM-SN-1');
      const freed = await post('factory/attestation/challenges', { deviceSerial: 'TPM-SN-2', profile: 'device-tpm', ...evidence(station, 'device') }, { token: stationKey });
      assert.equal(freed.status, 201, freed.body);
    });

    test('refused, with a reason, nothing issued: an unknown manufacturer, a key that can leave the TPM, an AK the TPM cannot activate, another nonce, a swapped key', async () => {
      // tpm-dev-1 attests again (its TPM is bound to it): each attempt is refused for its own reason.
      const before = await issuedTo('tpm-dev-1');
      const secret = await secretFor('tpm-dev-1');
      const unknown = await challenge('tpm-dev-1', secret, unknownMaker, 'device');
      assert.equal(unknown.status, 403, unknown.body);
      assert.equal(unknown.json().error.code, 'ek_untrusted');

      const movable = await challenge('tpm-dev-1', secret, trusted, 'movable');
      assert.equal(movable.status, 403, movable.body);
      assert.equal(movable.json().error.code, 'key_not_hardware_bound');
      assert.match(movable.json().error.message, /fixedTPM, fixedParent/);

      // Another TPM's AK with this TPM's EK: the credential is bound to a Name this TPM does not hold.
      const foreign = await challenge('tpm-dev-1', secret, trusted, 'other', { ak: unknownMaker });
      assert.equal(foreign.status, 201, foreign.body);
      assert.equal(await activate(trusted, foreign.json().credential), undefined, 'tpm2_activatecredential fails');
      const guessed = await post('attestation/enroll', { device: 'tpm-dev-1', secret, label: 'tpm', challenge: foreign.json().challenge, activatedSecret: randomBytes(32).toString('base64'), ...(await certifyCreation(trusted, 'other', foreign.json().nonce)) });
      assert.equal(guessed.status, 403, guessed.body);
      assert.equal(guessed.json().error.code, 'activation_failed');

      // tpm2_certify of tpm2-tools 5.4 always sends the qualifying data 00ff55aa: not Hallmark's nonce.
      const c1 = (await challenge('tpm-dev-1', secret, trusted, 'other')).json();
      const activated = (await activate(trusted, c1.credential))!.toString('base64');
      await tools(trusted, 'tpm2_certify', ['-c', 'other.ctx', '-C', 'ak.ctx', '-g', 'sha256', '-o', 'other.certify', '-s', 'other.certify.sig']);
      const wrongNonce = await post('attestation/enroll', { device: 'tpm-dev-1', secret, label: 'tpm', challenge: c1.challenge, activatedSecret: activated, attestation: b64(trusted, 'other.certify'), signature: b64(trusted, 'other.certify.sig') });
      assert.equal(wrongNonce.status, 403, wrongNonce.body);
      assert.match(wrongNonce.json().error.message, /nonce/);

      // The nonce of an earlier challenge (a replayed attestation).
      const c2 = (await challenge('tpm-dev-1', secret, trusted, 'other')).json();
      const stale = await post('attestation/enroll', { device: 'tpm-dev-1', secret, label: 'tpm', challenge: c2.challenge, activatedSecret: (await activate(trusted, c2.credential))!.toString('base64'), ...(await certifyCreation(trusted, 'other', c1.nonce)) });
      assert.equal(stale.status, 403, stale.body);
      assert.match(stale.json().error.message, /nonce/);

      // Key "other" presented, key "device" certified.
      const c3 = (await challenge('tpm-dev-1', secret, trusted, 'other')).json();
      await tools(trusted, 'tpm2_load', ['-C', 'primary.ctx', '-u', 'device.pub', '-r', 'device.priv', '-c', 'device.ctx']);
      const swapped = await post('attestation/enroll', { device: 'tpm-dev-1', secret, label: 'tpm', ...(await answerFor(trusted, c3, 'device')) });
      assert.equal(swapped.status, 403, swapped.body);
      assert.match(swapped.json().error.message, /another key/);

      assert.equal(await issuedTo('tpm-dev-1'), before, 'nothing issued');
      assert.ok((await audited('attestation.verify', 'tpm-dev-1')).length >= 4, 'each refusal at the answer is audited');
      assert.ok((await audited('attestation.challenge', 'tpm-dev-1')).some((e: { outcome: string }) => e.outcome === 'failure'), 'and at the challenge');
    });

    test('a challenge answers once and expires; a TPM bound to one device is refused for another', async () => {
      // tpm-dev-1 holds the trusted TPM (first test): another identity cannot have it.
      const secret3 = await secretFor('tpm-dev-3');
      const bound = await challenge('tpm-dev-3', secret3, trusted, 'other');
      assert.equal(bound.status, 409, bound.body);
      assert.equal(bound.json().error.code, 'tpm_bound');

      // The station's TPM, now free for TPM-SN-2 (previous test) — used here for a device enrolling itself.
      const secret4 = await secretFor('TPM-SN-2');
      const c = (await challenge('TPM-SN-2', secret4, station, 'device')).json();
      const answer = await answerFor(station, c, 'device');
      clock.advance(301_000);
      const expired = await post('attestation/enroll', { device: 'TPM-SN-2', secret: secret4, label: 'tpm', ...answer });
      assert.equal(expired.status, 410, expired.body);
      const replayed = await post('attestation/enroll', { device: 'TPM-SN-2', secret: secret4, label: 'tpm', ...answer });
      assert.equal(replayed.status, 409, replayed.body);
      assert.equal(replayed.json().error.code, 'challenge_used');
      const unknown = await post('attestation/enroll', { device: 'TPM-SN-2', secret: secret4, label: 'tpm', ...answer, challenge: 'ffff' });
      assert.equal(unknown.status, 404, unknown.body);
      const garbage = await post('attestation/challenges', { device: 'TPM-SN-2', secret: secret4, label: 'tpm', ...evidence(station, 'device'), akPublic: 'AAEC' });
      assert.equal(garbage.status, 400, garbage.body);
      assert.match(garbage.json().error.message, /akPublic/);
      assert.equal(await issuedTo('TPM-SN-2'), 0);
    });

    test('a profile that requires attestation is out of reach of every CSR path: REST, EST, a station, the CLI', async () => {
      const csr = await opensslCsr(dir, { subject: '/CN=tpm-csr-1' });
      const secret = await secretFor('tpm-csr-1');
      const rest = await post('enroll', { device: 'tpm-csr-1', secret, csr: csr.csrPem, label: 'tpm' });
      assert.equal(rest.status, 403, rest.body);
      assert.equal(rest.json().error.code, 'attestation_required');
      const est = await run('curl', ['-sS', '-o', '-', '-w', '\n%{http_code}', '--cacert', files.rootFile, '--user', `tpm-csr-1:${secret}`, '-H', 'Content-Type: application/pkcs10', '--data-binary', fs.readFileSync(csr.csrFile, 'utf8').replace(/-----[^-]+-----|\n/g, ''), `https://localhost:${hm.running.https}/.well-known/est/tpm/simpleenroll`]);
      assert.match(est.stdout, /403$/, est.stdout + est.stderr);
      assert.match(est.stdout, /TPM/);
      const factoryCsr = await opensslCsr(dir, { subject: '/CN=TPM-SN-9' });
      const factory = await post('factory/provision', { deviceSerial: 'TPM-SN-9', model: 'M', lot: 'L', firmwareVersion: '1', profile: 'device-tpm', csr: factoryCsr.csrPem }, { token: stationKey });
      assert.equal(factory.status, 403, factory.body);
      assert.equal(factory.json().error.code, 'attestation_required');
      const cli = await hallmark(env, 'cert', 'issue', '--csr', csr.csrFile, '--profile', 'device-tpm', '--device', 'tpm-csr-1');
      assert.notEqual(cli.code, 0);
      assert.match(cli.stderr, /TPM/);
      assert.equal(await issuedTo('tpm-csr-1'), 0);
      assert.equal(await issuedTo('TPM-SN-9'), 0);
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

test('a profile that requires attestation cannot also accept CSR renewals (a configuration error that says why)', async () => {
  const { loadCaConfig } = await import('../src/config/ca-config.js');
  const dir = fs.mkdtempSync(path.join(home.home, 'renewal-'));
  const file = configCopy(dir, () => {});
  const profileFile = path.join(dir, 'profiles', 'device-tpm.yaml');
  fs.writeFileSync(profileFile, fs.readFileSync(profileFile, 'utf8').replace('renewal: false', 'renewal: true'));
  assert.throws(() => loadCaConfig(file), /requires TPM attestation: a CSR renewal cannot prove where the key lives/);
});
