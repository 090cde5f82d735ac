import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { sqliteBackend } from './helpers/backends.js';
import { startInProcess, type InProcessHallmark } from './helpers/in-process.js';
import { opensslCsr } from './helpers/csr.js';
import { mustRun } from './helpers/run.js';
import { toPem } from '../src/x509/pem.js';
import { RECHECK_MS } from '../src/keys/pkcs11/working-copies.js';

let home: TestHome;
let hm: InProcessHallmark;
before(async () => {
  home = await makeTestHome(['faults']);
  hm = await startInProcess(home, sqliteBackend(), 'faults');
});
after(async () => {
  const away = path.join(home.home, 'hsm', 'tokens.away');
  if (fs.existsSync(away)) fs.renameSync(away, path.join(home.home, 'hsm', 'tokens'));
  await hm?.close();
  home?.cleanup();
});

test('the token goes away: signing routes answer 503 with a reason, status routes keep serving, and service resumes by itself', async () => {
  const dir = fs.mkdtempSync(path.join(home.home, 'f-'));
  const issue = async (id: string) => hm.request('POST', 'certificates', { token: hm.init.admin.apiKey, body: { csr: (await opensslCsr(dir, { subject: `/CN=${id}` })).csrPem, profile: 'device', device: id } });
  const first = await issue('fault-1');
  assert.equal(first.status, 201);
  const certFile = path.join(dir, 'c.pem');
  const issuingFile = path.join(dir, 'i.pem');
  fs.writeFileSync(certFile, first.json().certificate);
  fs.writeFileSync(issuingFile, toPem(hm.running.issue.issuers.get('issuing').certificate, 'CERTIFICATE'));
  const reqFile = path.join(dir, 'r.der');
  await mustRun('openssl', ['ocsp', '-issuer', issuingFile, '-cert', certFile, '-no_nonce', '-reqout', reqFile]);
  const ocsp = async () => {
    const r = await fetch(`http://127.0.0.1:${hm.running.http}/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: fs.readFileSync(reqFile) });
    return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
  };
  const cached = await ocsp();
  assert.ok(cached.body.length > 100);

  const tokens = path.join(home.home, 'hsm', 'tokens');
  fs.renameSync(tokens, `${tokens}.away`);
  try {
    // Signing goes through working copies in the module's memory, checked against the token every
    // RECHECK_MS (src/keys/pkcs11/working-copies.ts): the loss is seen within that, not necessarily at once.
    const gone = performance.now();
    let refused = await issue('fault-2');
    for (let i = 0; refused.status === 201; i++) {
      assert.ok(performance.now() - gone < RECHECK_MS + 5_000, 'still issuing long after the token went away');
      await new Promise((r) => setTimeout(r, 100));
      refused = await issue(`fault-2-${i}`);
    }
    assert.equal(refused.status, 503, refused.body);
    assert.match(refused.json().error.code, /^hsm_/);
    assert.match(refused.json().error.message, /token|HSM/i);
    const stillCached = await ocsp();
    assert.equal(stillCached.status, 200);
    assert.deepEqual(stillCached.body, cached.body, 'cached OCSP answers keep being served');
    assert.equal((await fetch(`http://127.0.0.1:${hm.running.http}/crl/issuing.crl`)).status, 200, 'the CRL keeps being served');
    const ready = await fetch(`http://127.0.0.1:${hm.running.http}/readyz`);
    assert.equal(ready.status, 503);
    assert.notEqual(((await ready.json()) as { checks: { token: string } }).checks.token, 'ok');
    assert.equal((await hm.request('GET', 'cas', { token: hm.init.admin.apiKey })).status, 200, 'reads keep working');
  } finally {
    fs.renameSync(`${tokens}.away`, tokens);
  }
  let back = await issue('fault-3');
  for (let i = 0; i < 5 && back.status !== 201; i++) back = await issue(`fault-3-${i}`);
  assert.equal(back.status, 201, back.body);
  assert.equal((await fetch(`http://127.0.0.1:${hm.running.http}/readyz`)).status, 200);
});
