import { sql } from '../src/store/handle.js';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { sqliteBackend } from './helpers/backends.js';
import { configCopy, startInProcess, type InProcessHallmark } from './helpers/in-process.js';
import { opensslCsr } from './helpers/csr.js';
import { hallmark, hallmarkJson } from './helpers/cli.js';
import { mustRun, run } from './helpers/run.js';
import { toPem } from '../src/x509/pem.js';
import { retireSpentGenerations } from '../src/ca/rollover.js';
import { sequenced } from './helpers/sequenced.js';

let home: TestHome;
let hm: InProcessHallmark;
let env: NodeJS.ProcessEnv;
let dir: string;
let configFile: string;
before(async () => {
  home = await makeTestHome(['roll']);
  configFile = configCopy(path.join(home.home, 'config'), (c) => {
    c.est = { ...(c.est ?? {}), renewal: { fromFraction: 0, revokeSupersededAfterHours: 24 } };
  });
  hm = await startInProcess(home, sqliteBackend(), 'roll', { configFile });
  env = { ...home.env, HALLMARK_HOME: path.join(home.home, 'data-roll'), HALLMARK_PKCS11_TOKEN: 'roll', HALLMARK_CONFIG: configFile };
  dir = fs.mkdtempSync(path.join(home.home, 'roll-'));
});
after(async () => {
  await hm?.close();
  home?.cleanup();
});

const write = (name: string, text: string) => {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
};

async function issueDevice(id: string) {
  const { csrPem, keyFile } = await opensslCsr(dir, { subject: `/CN=${id}` });
  const r = await hm.request('POST', 'certificates', { token: hm.init.admin.apiKey, body: { csr: csrPem, profile: 'device', device: id } });
  assert.equal(r.status, 201, r.body);
  return { ...r.json(), keyFile, file: write(`${id}.pem`, r.json().certificate) };
}

test('issuing CA rollover without downtime: old certificates keep verifying and getting OCSP answers, new ones chain to the new CA, renewals move over', async () => {
  const rootFile = write('root.pem', hm.rootPem);
  const oldIssuing = write('issuing-1.pem', toPem(hm.running.issue.issuers.exact('issuing').certificate, 'CERTIFICATE'));
  const before = await issueDevice('before-rollover');

  const rolled = await hallmarkJson(env, 'ca', 'rollover', 'issuing');
  assert.equal(rolled.name, 'issuing-2');
  await hm.running.poll(); // what the running instance does every pollSeconds
  assert.equal(hm.running.issue.issuers.get('issuing').name, 'issuing-2');
  const newIssuing = write('issuing-2.pem', toPem(hm.running.issue.issuers.exact('issuing-2').certificate, 'CERTIFICATE'));

  const after = await issueDevice('after-rollover');
  assert.equal(after.issuer, 'issuing-2');
  await mustRun('openssl', ['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', rootFile, '-untrusted', newIssuing, after.file]);
  await mustRun('openssl', ['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', rootFile, '-untrusted', oldIssuing, before.file]);

  const ocsp = async (issuer: string, cert: string) => {
    const r = await run('openssl', ['ocsp', '-issuer', issuer, '-cert', cert, '-url', `http://127.0.0.1:${hm.running.http}/ocsp`, '-CAfile', write('chain.pem', hm.rootPem + fs.readFileSync(oldIssuing, 'utf8') + fs.readFileSync(newIssuing, 'utf8'))]);
    return r.stdout + r.stderr;
  };
  assert.match(await ocsp(oldIssuing, before.file), /Response verify OK[\s\S]*: good|: good[\s\S]*Response verify OK/);
  assert.match(await ocsp(newIssuing, after.file), /: good/);
  for (const ca of ['issuing', 'issuing-2']) {
    const crl = path.join(dir, `${ca}.crl`);
    for (let i = 0; i < 50 && !fs.existsSync(crl); i++) {
      const r = await run('curl', ['-sSf', '-o', crl, `http://127.0.0.1:${hm.running.http}/crl/${ca}.crl`]);
      if (r.code !== 0) {
        fs.rmSync(crl, { force: true });
        await hm.running.poll();
      }
    }
    await mustRun('openssl', ['crl', '-inform', 'DER', '-in', crl, '-CAfile', write('both.pem', hm.rootPem + fs.readFileSync(ca === 'issuing' ? oldIssuing : newIssuing, 'utf8')), '-noout']);
  }

  // Devices learn the new chain before they need it: cacerts and ca export give the current set.
  const cacerts = await run('curl', ['-sS', '--cacert', rootFile, `https://localhost:${hm.running.https}/.well-known/est/cacerts`]);
  const p7 = write('cacerts.b64', cacerts.stdout);
  await mustRun('openssl', ['base64', '-d', '-in', p7, '-out', `${p7}.der`]);
  const inP7 = await mustRun('openssl', ['pkcs7', '-inform', 'DER', '-in', `${p7}.der`, '-print_certs']);
  assert.match(inP7, /Hallmark Issuing CA 1 G2/);
  assert.match(inP7, /subject=CN ?= ?Hallmark Issuing CA 1, O ?= ?Hallmark/);
  const exported = await hallmark(env, 'ca', 'export', 'issuing', '--chain');
  assert.equal(exported.stdout.match(/BEGIN CERTIFICATE/g)?.length, 3, 'both generations and the root');

  // A renewal moves the device onto the new CA.
  const renewCsr = await mustRun('openssl', ['req', '-new', '-key', before.keyFile, '-subj', '/CN=before-rollover/O=Hallmark Devices']);
  const renewed = await hm.request('POST', 'renew', { body: { csr: renewCsr }, cert: before.certificate, key: fs.readFileSync(before.keyFile, 'utf8') });
  assert.equal(renewed.status, 201, renewed.body);
  assert.equal(renewed.json().issuer, 'issuing-2');
  assert.ok(await sql(await sequenced(hm.ctx.store))('audit_events').where({ action: 'ca.rollover', target: 'issuing-2' }).first());
});

test('an old generation is retired once its last certificate has expired, never the current one', async () => {
  const far = { now: () => new Date(Date.now() + 3 * 365 * 86_400_000) };
  const retired = await retireSpentGenerations({ store: hm.ctx.store, audit: hm.ctx.audit, clock: far, issuers: hm.running.issue.issuers });
  assert.deepEqual(retired, ['issuing']);
  assert.equal(hm.running.issue.issuers.get('issuing').name, 'issuing-2');
  assert.deepEqual(hm.running.issue.issuers.list().map((i) => i.name).sort(), ['issuing-2', 'root']);
  assert.deepEqual(await retireSpentGenerations({ store: hm.ctx.store, audit: hm.ctx.audit, clock: far, issuers: hm.running.issue.issuers }), []);
});

test('root rollover: link certificates let openssl build a path across the two roots in both directions', async () => {
  const rolled = await hallmarkJson(env, 'ca', 'rollover', 'root');
  assert.equal(rolled.name, 'root-2');
  assert.equal(rolled.links.length, 2);
  await hm.running.poll();
  const underNewRoot = await hallmarkJson(env, 'ca', 'rollover', 'issuing');
  assert.equal(underNewRoot.parent, 'root-2');
  await hm.running.poll();
  const fresh = await issueDevice('under-new-root');
  assert.equal(fresh.issuer, underNewRoot.name);

  const pem = (der: Buffer) => toPem(new Uint8Array(der), 'CERTIFICATE');
  const link = async (issuer: string) => pem((await sql(hm.ctx.store)('certificates').where({ profile: 'link', issuer }).first()).der);
  const newWithOld = write('new-with-old.pem', await link('root'));
  const oldWithNew = write('old-with-new.pem', await link('root-2'));
  const oldRoot = write('root-1.pem', hm.rootPem);
  const newRoot = write('root-2.pem', toPem(hm.running.issue.issuers.exact('root-2').certificate, 'CERTIFICATE'));
  const newIssuing = write('issuing-new.pem', toPem(hm.running.issue.issuers.exact(underNewRoot.name).certificate, 'CERTIFICATE'));
  const oldIssuing = write('issuing-old.pem', toPem(hm.running.issue.issuers.exact('issuing-2').certificate, 'CERTIFICATE'));
  const oldDeviceRow = await sql(hm.ctx.store)('certificates').where({ identity: 'after-rollover', issuer: 'issuing-2' }).first();
  const oldDevice = write('old-device.pem', pem(oldDeviceRow.der));

  // A device that only trusts the old root validates the new hierarchy through NewWithOld…
  await mustRun('openssl', ['verify', '-purpose', 'sslclient', '-CAfile', oldRoot, '-untrusted', write('u1.pem', fs.readFileSync(newIssuing, 'utf8') + fs.readFileSync(newWithOld, 'utf8')), fresh.file]);
  const without = await run('openssl', ['verify', '-purpose', 'sslclient', '-CAfile', oldRoot, '-untrusted', newIssuing, fresh.file]);
  assert.notEqual(without.code, 0, 'and cannot without the link');
  // …and one that only trusts the new root validates the old hierarchy through OldWithNew.
  await mustRun('openssl', ['verify', '-purpose', 'sslclient', '-CAfile', newRoot, '-untrusted', write('u2.pem', fs.readFileSync(oldIssuing, 'utf8') + fs.readFileSync(oldWithNew, 'utf8')), oldDevice]);

  const cacerts = await run('curl', ['-sS', '--cacert', oldRoot, `https://localhost:${hm.running.https}/.well-known/est/cacerts`]);
  const p7 = write('cacerts-2.b64', cacerts.stdout);
  await mustRun('openssl', ['base64', '-d', '-in', p7, '-out', `${p7}.der`]);
  const inP7 = await mustRun('openssl', ['pkcs7', '-inform', 'DER', '-in', `${p7}.der`, '-print_certs']);
  assert.match(inP7, /Hallmark Root CA G2/);
  assert.ok((inP7.match(/subject=CN ?= ?Hallmark Root CA G2/g) ?? []).length >= 2, 'the new root and NewWithOld');
  assert.ok(await sql(await sequenced(hm.ctx.store))('audit_events').where({ action: 'ca.rollover', target: 'root-2' }).first());
});

test('a CA certificate is recorded before its issuer signs it, and recorded issued with the CA', async () => {
  const registry = hm.running.issue.issuers;
  const seen: string[] = [];
  // The parent's key, watched: when it is asked to sign, the TBSCertificate must already be a pending record.
  const watched = new Proxy(registry, {
    get(target, prop, receiver) {
      if (prop !== 'get') return Reflect.get(target, prop, receiver);
      return (name: string) => {
        const ca = target.get(name);
        const signer = Object.assign(Object.create(Object.getPrototypeOf(ca.signer)), ca.signer, {
          sign: async (tbs: Uint8Array) => {
            const pending = await sql(hm.ctx.store)('certificates').where({ issuer: ca.name, status: 'pending', profile: 'ca' });
            seen.push(pending.some((r: { tbs: Buffer }) => Buffer.from(r.tbs).equals(Buffer.from(tbs))) ? 'recorded first' : 'signed unrecorded');
            return ca.signer.sign(tbs);
          },
        });
        return { ...ca, signer };
      };
    },
  });
  const { rolloverCa } = await import('../src/ca/rollover.js');
  const rolled = await rolloverCa({ store: hm.ctx.store, keys: hm.ctx.keys!, cas: hm.ctx.cas, audit: hm.ctx.audit, clock: hm.ctx.clock, config: hm.ctx.config, tokenLabel: 'roll', issuers: watched }, 'issuing', { actor: 'test' });
  assert.deepEqual(seen, ['recorded first']);
  const row = await sql(hm.ctx.store)('certificates').where({ serial: rolled.serial }).first();
  assert.equal(row.status, 'active');
  assert.equal(row.tbs, null, 'the TBS is dropped once the certificate is recorded');
  assert.ok(Buffer.from(row.der).equals(Buffer.from((await hm.ctx.cas.get(rolled.name))!.certificate)), 'the recorded certificate is the CA certificate');
});
