import { sql } from '../src/store/handle.js';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { sqliteBackend } from './helpers/backends.js';
import { startInProcess, type InProcessHallmark } from './helpers/in-process.js';
import { opensslCsr } from './helpers/csr.js';
import { hallmark, hallmarkJson } from './helpers/cli.js';
import { mustRun, run } from './helpers/run.js';
import { toPem } from '../src/x509/pem.js';
import { sequenced } from './helpers/sequenced.js';

let home: TestHome;
let hm: InProcessHallmark;
let env: NodeJS.ProcessEnv;
let dir: string;
before(async () => {
  home = await makeTestHome(['drill']);
  hm = await startInProcess(home, sqliteBackend(), 'drill');
  env = { ...home.env, HALLMARK_HOME: path.join(home.home, 'data-drill'), HALLMARK_PKCS11_TOKEN: 'drill' };
  dir = fs.mkdtempSync(path.join(home.home, 'drill-'));
});
after(async () => {
  await hm?.close();
  home?.cleanup();
});

const write = (name: string, text: string | Uint8Array) => {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
};

test('compromise drill: revoking the only issuer is refused; after a rollover the root revokes it and its devices are re-issued', async () => {
  const lonely = await hallmark(env, 'ca', 'revoke', 'issuing', '--reason', 'keyCompromise');
  assert.equal(lonely.code, 1);
  assert.match(lonely.stderr, /only CA of "issuing"; roll over first/);

  const devices = [];
  for (let i = 0; i < 5; i++) {
    const { csrPem } = await opensslCsr(dir, { subject: `/CN=drill-${i}` });
    const r = await hm.request('POST', 'certificates', { token: hm.init.admin.apiKey, body: { csr: csrPem, profile: 'device', device: `drill-${i}` } });
    assert.equal(r.status, 201);
    devices.push(r.json());
  }
  const oldIssuing = write('issuing.pem', toPem(hm.running.issue.issuers.exact('issuing').certificate, 'CERTIFICATE'));
  await hallmarkJson(env, 'ca', 'rollover', 'issuing');
  const revoked = await hallmarkJson(env, 'ca', 'revoke', 'issuing', '--reason', 'keyCompromise');
  assert.equal(revoked.successor, 'issuing-2');
  assert.equal(revoked.certificatesToReissue, 6, 'five devices and the HTTPS listener');
  await hm.running.poll();

  // The root's CRL lists the compromised CA; a chain through it no longer verifies with CRL checks.
  let rootCrl = '';
  for (let i = 0; i < 50; i++) {
    await hm.running.poll();
    const file = path.join(dir, `root-${i}.crl`);
    await mustRun('curl', ['-sSf', '-o', file, `http://127.0.0.1:${hm.running.http}/crl/root.crl`]);
    const text = await mustRun('openssl', ['crl', '-inform', 'DER', '-in', file, '-noout', '-text']);
    if (/Key Compromise/.test(text)) {
      rootCrl = file;
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(rootCrl, 'the root published a CRL with the issuing CA on it');
  const rootPem = write('root.pem', hm.rootPem);
  await mustRun('openssl', ['crl', '-inform', 'DER', '-in', rootCrl, '-out', `${rootCrl}.pem`]);
  const oldDevice = write('old-device.pem', devices[0].certificate);
  const check = await run('openssl', ['verify', '-crl_check_all', '-CRLfile', `${rootCrl}.pem`, '-CAfile', rootPem, '-untrusted', oldIssuing, oldDevice]);
  assert.notEqual(check.code, 0);

  // Re-issue as a bulk job with progress; a second run has nothing left to do (resumable).
  const reissue = await hallmark(env, 'ca', 'reissue', 'issuing');
  assert.equal(reissue.code, 0, reissue.stderr);
  assert.match(reissue.stderr, /reissuing: 6\/6/);
  assert.match(reissue.stdout, /6 of 6 certificate\(s\) re-issued/);
  const again = await hallmarkJson(env, 'ca', 'reissue', 'issuing');
  assert.equal(again.total, 0);

  const newIssuing = write('issuing-2.pem', toPem(hm.running.issue.issuers.exact('issuing-2').certificate, 'CERTIFICATE'));
  for (const d of devices) {
    const old = await sql(hm.ctx.store)('certificates').where({ serial: d.serial }).first();
    assert.equal(old.status, 'revoked');
    assert.equal(old.revocation_reason, 'cACompromise');
    const fresh = await sql(hm.ctx.store)('certificates').where({ serial: old.superseded_by }).first();
    assert.equal(fresh.issuer, 'issuing-2');
    assert.equal(fresh.identity, d.identity);
    const file = write(`${d.identity}-new.pem`, toPem(new Uint8Array(fresh.der), 'CERTIFICATE'));
    await mustRun('openssl', ['verify', '-purpose', 'sslclient', '-CAfile', rootPem, '-untrusted', newIssuing, file]);
    assert.equal(await mustRun('openssl', ['x509', '-in', file, '-noout', '-pubkey']), await mustRun('openssl', ['x509', '-in', write(`${d.identity}-old.pem`, d.certificate), '-noout', '-pubkey']), 'same device key');
  }
  assert.equal(hm.running.issue.issuers.get('issuing').name, 'issuing-2');
  assert.ok(await sql(await sequenced(hm.ctx.store))('audit_events').where({ action: 'ca.revoke', target: 'issuing' }).first());
  assert.equal(Number((await sql(await sequenced(hm.ctx.store))('audit_events').where({ action: 'certificate.reissue' }).count({ n: '*' }))[0]!.n), 6);
});
