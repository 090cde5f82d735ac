import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { sqliteBackend } from './helpers/backends.js';
import { configCopy, startInProcess, type InProcessHallmark } from './helpers/in-process.js';
import { opensslCsr } from './helpers/csr.js';
import { freePort } from './helpers/ports.js';
import { startBroker } from './helpers/mosquitto.js';
import { mustRun, run } from './helpers/run.js';
import { issueCertificate } from '../src/ca/issue.js';
import { toPem } from '../src/x509/pem.js';

/**
 * A real relying party end to end: Mosquitto with `require_certificate true` and Hallmark's CRL
 * accepts a device, then refuses it once it is revoked and the broker has the new CRL.
 */
let home: TestHome;
let hm: InProcessHallmark;
let broker: ChildProcess | undefined;
const backend = sqliteBackend();

before(async () => {
  home = await makeTestHome(['mqtt']);
  const configFile = configCopy(path.join(home.home, 'config'), (c) => {
    c.revocation = { crl: { validityHours: 24, refreshAfterHours: 12, coalesceMs: 100 }, ocsp: { validityMinutes: 60, refreshBeforeMinutes: 10, pollSeconds: 1 } };
  });
  hm = await startInProcess(home, backend, 'mqtt', { configFile });
});
after(async () => {
  broker?.kill('SIGKILL');
  await hm?.close();
  home?.cleanup();
});

async function fetchCrlPem(dir: string): Promise<number> {
  const der = path.join(dir, 'crl.der');
  await mustRun('curl', ['-sSf', '-o', der, `http://127.0.0.1:${hm.running.http}/crl/issuing.crl`]);
  await mustRun('openssl', ['crl', '-inform', 'DER', '-in', der, '-out', path.join(dir, 'crl.pem')]);
  return parseInt((await mustRun('openssl', ['crl', '-in', path.join(dir, 'crl.pem'), '-noout', '-crlnumber'])).split('=')[1]!, 16);
}

test('Mosquitto accepts a device certificate, then refuses it after revocation and a CRL reload', async () => {
  const dir = fs.mkdtempSync(path.join(home.home, 'mqtt-'));
  const issuing = toPem(hm.running.issue.issuers.get('issuing').certificate, 'CERTIFICATE');
  fs.writeFileSync(path.join(dir, 'chain.pem'), hm.rootPem + issuing);
  // The broker's own TLS certificate, from the tls-server profile.
  const server = await opensslCsr(dir, { subject: '/CN=localhost', addext: ['subjectAltName=DNS:localhost,IP:127.0.0.1'] });
  const serverCert = await issueCertificate(hm.running.issue, { csr: server.csrPem, profile: 'tls-server', requester: { kind: 'cli' as const }, actor: 'test' });
  fs.writeFileSync(path.join(dir, 'broker.pem'), serverCert.certificate + issuing);
  fs.copyFileSync(server.keyFile, path.join(dir, 'broker.key'));
  const device = await opensslCsr(dir);
  const deviceCert = await issueCertificate(hm.running.issue, { csr: device.csrPem, profile: 'device', identity: 'sensor-42', requester: { kind: 'cli' as const }, actor: 'test' });
  fs.writeFileSync(path.join(dir, 'device.pem'), deviceCert.certificate);
  const neighbour = await opensslCsr(dir);
  fs.writeFileSync(path.join(dir, 'neighbour.pem'), (await issueCertificate(hm.running.issue, { csr: neighbour.csrPem, profile: 'device', identity: 'sensor-43', requester: { kind: 'cli' as const }, actor: 'test' })).certificate);
  const before = await fetchCrlPem(dir);

  const port = await freePort();
  broker = await startBroker(dir, port);
  const publish = (cert = path.join(dir, 'device.pem'), key = device.keyFile) =>
    run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '--cafile', path.join(dir, 'chain.pem'), '--cert', cert, '--key', key, '-t', 'devices/sensor-42', '-m', 'hello', '-q', '1']);
  const accepted = await publish();
  assert.equal(accepted.code, 0, `a valid device connects: ${accepted.stderr}`);

  const revoked = await hm.request('POST', `certificates/${deviceCert.serial}/revoke`, { token: hm.init.admin.apiKey, body: { reason: 'keyCompromise' } });
  assert.equal(revoked.status, 200);
  let number = before;
  for (let i = 0; i < 50 && number <= before; i++) {
    await new Promise((r) => setTimeout(r, 100));
    number = await fetchCrlPem(dir);
  }
  assert.ok(number > before, 'a new CRL was published');
  // Mosquitto reads its CRL file when it starts; restart it with the new one.
  broker.kill('SIGTERM');
  await new Promise((r) => broker!.once('exit', r));
  broker = await startBroker(dir, port);
  const refused = await publish();
  assert.notEqual(refused.code, 0, 'the revoked device is refused');
  // The broker writes its log line on its own time: mosquitto_pub may exit before it lands.
  const sinceRestart = () => {
    const log = fs.readFileSync(path.join(dir, 'broker.log'), 'utf8');
    return log.slice(log.lastIndexOf('starting'));
  };
  for (let i = 0; i < 50 && !/certificate verify failed/.test(sinceRestart()); i++) await new Promise((r) => setTimeout(r, 100));
  assert.match(sinceRestart(), /certificate verify failed/, 'refused by the TLS layer');
  const other = await publish(path.join(dir, 'neighbour.pem'), neighbour.keyFile);
  assert.equal(other.code, 0, `a device that was not revoked still connects: ${other.stderr}`);
});
