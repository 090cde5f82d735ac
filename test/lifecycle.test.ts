import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as asn1js from 'asn1js';
import { AsnConvert } from '@peculiar/asn1-schema';
import { BasicOCSPResponse, OCSPResponse } from '@peculiar/asn1-ocsp';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { sqliteBackend } from './helpers/backends.js';
import { manualClock, startInProcess, type InProcessHallmark } from './helpers/in-process.js';
import { opensslCsr } from './helpers/csr.js';
import { mustRun } from './helpers/run.js';
import { issueCertificate } from '../src/ca/issue.js';
import { toPem } from '../src/x509/pem.js';

let home: TestHome;
let hm: InProcessHallmark;
const clock = manualClock();
const DAY = 86_400_000;

before(async () => {
  home = await makeTestHome(['life']);
  hm = await startInProcess(home, sqliteBackend(), 'life', { clock });
});
after(async () => {
  await hm?.close();
  home?.cleanup();
});

/** POSTs an OCSP request made by openssl; returns the status and, when signed, who signed it and whether the signature verifies. */
async function ask(reqFile: string) {
  const r = await fetch(`http://127.0.0.1:${hm.running.http}/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: fs.readFileSync(reqFile) });
  const der = new Uint8Array(await r.arrayBuffer());
  const response = AsnConvert.parse(der, OCSPResponse);
  if (response.responseStatus !== 0) return { status: response.responseStatus };
  const basicDer = new Uint8Array(response.responseBytes!.response.buffer);
  const basic = AsnConvert.parse(basicDer, BasicOCSPResponse);
  const tbs = new Uint8Array(((asn1js.fromBER(basicDer).result as asn1js.Sequence).valueBlock.value[0]!).valueBeforeDecodeView);
  const responder = new Uint8Array(AsnConvert.serialize(basic.certs![0]!));
  const { X509Certificate } = await import('node:crypto');
  const cert = new X509Certificate(Buffer.from(responder));
  const ok = verify('sha256', tbs, createPublicKey(cert.publicKey.export({ format: 'pem', type: 'spki' })), new Uint8Array(basic.signature));
  return { status: 0, responder: cert.serialNumber.toLowerCase(), verified: ok };
}

test('the OCSP signer renews itself with a fast clock, with no failed OCSP request', async () => {
  const dir = fs.mkdtempSync(path.join(home.home, 'life-'));
  const issuingFile = path.join(dir, 'issuing.pem');
  fs.writeFileSync(issuingFile, toPem(hm.running.issue.issuers.get('issuing').certificate, 'CERTIFICATE'));
  const request = async (id: string) => {
    const { csrPem } = await opensslCsr(dir);
    const issued = await issueCertificate(hm.running.issue, { csr: csrPem, profile: 'device', identity: id, requester: { kind: 'cli' as const }, actor: 'test' });
    const certFile = path.join(dir, `${id}.pem`);
    fs.writeFileSync(certFile, issued.certificate);
    const reqFile = path.join(dir, `${id}.req`);
    await mustRun('openssl', ['ocsp', '-issuer', issuingFile, '-cert', certFile, '-no_nonce', '-reqout', reqFile]);
    return reqFile;
  };
  const first = await request('life-1');
  const before = await ask(first);
  assert.deepEqual({ status: before.status, verified: before.verified }, { status: 0, verified: true });
  const original = hm.running.responders().get('issuing')!;
  assert.equal(before.responder, original.serial);

  // Into the last third of the responder's life: the next periodic run replaces it, while requests keep coming.
  clock.set(new Date(original.notBefore.getTime() + ((original.notAfter.getTime() - original.notBefore.getTime()) * 2) / 3 + DAY));
  const during: Promise<Awaited<ReturnType<typeof ask>>>[] = [];
  const renewal = hm.running.periodic();
  for (let i = 0; i < 20; i++) during.push(ask(first));
  await renewal;
  for (const answer of await Promise.all(during)) assert.deepEqual({ status: answer.status, verified: answer.verified }, { status: 0, verified: true });

  const renewed = hm.running.responders().get('issuing')!;
  assert.notEqual(renewed.serial, original.serial, 'a new responder certificate');
  assert.ok(renewed.notAfter > original.notAfter);
  const fresh = await ask(await request('life-2'));
  assert.deepEqual(fresh, { status: 0, responder: renewed.serial, verified: true }, 'new answers come from the new responder');
});

test('the HTTPS certificate renews itself without a restart', async () => {
  const fingerprint = async () =>
    (await mustRun('bash', ['-c', `openssl s_client -connect 127.0.0.1:${hm.running.https} -servername localhost </dev/null 2>/dev/null | openssl x509 -noout -serial`])).trim();
  const first = await fingerprint();
  const notAfter = hm.running.tlsNotAfter;
  clock.set(new Date(notAfter.getTime() - 20 * DAY));
  await hm.running.periodic();
  const second = await fingerprint();
  assert.notEqual(second, first, 'new handshakes get the new certificate');
  assert.ok(hm.running.tlsNotAfter > notAfter);
  assert.ok(hm.log.some((l) => l.includes('HTTPS certificate renewed')));
});
