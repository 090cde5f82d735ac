import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { AsnConvert } from '@peculiar/asn1-schema';
import { ContentInfo, SignedData } from '@peculiar/asn1-cms';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { BACKENDS } from './helpers/backends.js';
import { configCopy, manualClock, startInProcess, writeChainFiles, type InProcessHallmark } from './helpers/in-process.js';
import YAML from 'yaml';
import { cliEnv, hallmark, hallmarkJson } from './helpers/cli.js';
import { run } from './helpers/run.js';
import { createApiKey } from '../src/auth/api-keys.js';
import { createOperator } from '../src/auth/operators.js';
import { totpCode } from '../src/auth/totp.js';
import { parseKeyUri } from '../src/keys/key-uri.js';
import { sql } from '../src/store/handle.js';
import { endOverlaps } from '../src/signing/signer-lifecycle.js';

/**
 * A signer's life (docs/firmware-signing.md, "Signer lifecycle"): rollover with an overlap, the
 * replaced key destroyed and its certificate revoked as superseded when the overlap ends (a time-stamped
 * signature made before stays provably older, checked with openssl); revocation after a compromise;
 * retirement; rejected releases; API keys scoped to one signer.
 */

let home: TestHome;
before(async () => {
  home = await makeTestHome(['life-sqlite', 'life-postgres']);
});
after(() => home?.cleanup());

const DAY = 86_400_000;

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`signer lifecycle on ${backend.name}`, () => {
    const clock = manualClock();
    const token = `life-${backend.name}`;
    let hm: InProcessHallmark;
    let env: NodeJS.ProcessEnv;
    let dir: string;
    let files: ReturnType<typeof writeChainFiles>;
    let pipeline: string;
    let login: () => Promise<string>;
    let session: string;
    /** A signer's key and its end are a person's decision: a session sends a fresh authenticator code with each. */
    let fresh: () => { 'x-hallmark-totp': string };
    const image = (name: string) => {
      const file = path.join(dir, name);
      fs.writeFileSync(file, randomBytes(50_000));
      return { file, sha256: createHash('sha256').update(fs.readFileSync(file)).digest('hex') };
    };
    const sign = (signer: string, body: Record<string, unknown>, key = pipeline) => hm.request('POST', `signers/${signer}/signatures`, { token: key, body: { digestAlgorithm: 'sha256', product: signer, ...body } });
    const cmsVerify = (signature: Buffer, file: string, extra: string[] = [], caFile = files.rootFile) => {
      const p7s = path.join(dir, `${randomBytes(4).toString('hex')}.p7s`);
      fs.writeFileSync(p7s, signature);
      // At this Hallmark's (manual, ahead of the system's) time unless told otherwise.
      const at = extra.includes('-attime') ? [] : ['-attime', String(Math.floor(clock.now().getTime() / 1000))];
      return run('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', p7s, '-content', file, '-CAfile', caFile, '-purpose', 'any', '-out', path.join(dir, 'verified'), ...at, ...extra]);
    };
    const certificateStatus = async (serial: string) => (await sql(hm.ctx.store)('certificates').where({ serial }).first()) as { status: string; revocation_reason: string | null; revoked_at: number | null };
    const keyOnToken = (uri: string) => hm.ctx.keys!.hasKey(parseKeyUri(uri));
    const signerRow = async (name: string) => sql(hm.ctx.store)('signers').where({ name }).first();
    const lifecycleDeps = () => ({ store: hm.ctx.store, audit: hm.ctx.audit, clock, issue: hm.running.issue, keys: hm.ctx.keys!, tokenLabel: token, revocation: hm.running.revocation });

    before(async () => {
      dir = fs.mkdtempSync(path.join(home.home, `${token}-`));
      // A product line's signer profile: signs sensor-* only.
      const configFile = configCopy(path.join(dir, 'config'), () => undefined);
      const profile = YAML.parse(fs.readFileSync(path.join(dir, 'config', 'profiles', 'firmware-signer.yaml'), 'utf8'));
      fs.writeFileSync(path.join(dir, 'config', 'profiles', 'sensor-line-signer.yaml'), YAML.stringify({ ...profile, name: 'sensor-line-signer', products: ['sensor-*'] }));
      hm = await startInProcess(home, backend, token, { clock, configFile });
      env = { ...(await cliEnv(home, backend, token)), HALLMARK_CONFIG: configFile };
      files = writeChainFiles(hm, dir);
      pipeline = (await createApiKey(hm.ctx.store, { role: 'admin', scopes: ['firmware.sign:sensor-fw', 'release.read'], createdBy: 'test', now: clock.now() })).apiKey;
      const password = 'correct horse battery staple 7';
      const { totpSecret } = await createOperator(hm.ctx.store, hm.running.plane.sealer, { name: 'ada', role: 'admin', password, createdBy: 'test', now: clock.now() });
      // A fresh session (and a fresh authenticator code: a code is good once) where the clock moved on.
      login = async () => {
        clock.advance(30_000);
        const r = await hm.request('POST', 'sessions', { body: { name: 'ada', password, totp: totpCode(totpSecret, clock.now()) } });
        assert.equal(r.status, 201, r.body);
        return (session = r.json().token);
      };
      fresh = () => {
        clock.advance(30_000);
        return { 'x-hallmark-totp': totpCode(totpSecret, clock.now()) };
      };
      await login();
    });
    after(async () => {
      await hm?.close();
      await backend.cleanup();
    });

    test('REST: an admin session creates a signer (never an API key); a key scoped to it signs with it and with no other signer', async () => {
      const admin = (await createApiKey(hm.ctx.store, { role: 'admin', scopes: ['signer.manage'], createdBy: 'test', now: clock.now() })).apiKey;
      const byKey = await hm.request('POST', 'signers', { token: admin, body: { name: 'sensor-fw' } });
      assert.equal(byKey.status, 403, byKey.body);
      assert.match(byKey.json().error.message, /operator session/);
      const noCode = await hm.request('POST', 'signers', { token: session, body: { name: 'sensor-fw' } });
      assert.equal(noCode.json().error.code, 'fresh_totp_required', noCode.body);
      const created = await hm.request('POST', 'signers', { token: session, headers: fresh(), body: { name: 'sensor-fw' } });
      assert.equal(created.status, 201, created.body);
      assert.equal(created.json().status, 'active');
      assert.equal(created.json().generation, 1);
      assert.match(created.json().chain[0], /BEGIN CERTIFICATE/);
      assert.equal((await hm.request('POST', 'signers', { token: session, headers: fresh(), body: { name: 'other-fw' } })).status, 201);
      assert.equal((await hm.request('POST', 'signers', { token: session, headers: fresh(), body: { name: 'Bad Name' } })).status, 400);

      const fw = image('a.bin');
      assert.equal((await sign('sensor-fw', { digest: fw.sha256, version: '1.0.0' })).status, 201);
      const elsewhere = await sign('other-fw', { digest: fw.sha256, version: '1.0.0' });
      assert.equal(elsewhere.status, 403, elsewhere.body);
      assert.match(elsewhere.json().error.message, /signs with sensor-fw only/);
      // No escalation: a key scoped to one signer cannot grant signing with any signer.
      const granter = (await createApiKey(hm.ctx.store, { role: 'admin', scopes: ['apikey.manage', 'firmware.sign:sensor-fw'], createdBy: 'test', now: clock.now() })).apiKey;
      const wider = await hm.request('POST', 'apikeys', { token: granter, body: { role: 'admin', scopes: ['firmware.sign'] } });
      assert.equal(wider.status, 403, wider.body);
      assert.match(wider.json().error.message, /firmware\.sign with any signer/);
      const same = await hm.request('POST', 'apikeys', { token: granter, body: { role: 'admin', scopes: ['firmware.sign:sensor-fw'] } });
      assert.equal(same.status, 201, same.body);
      assert.deepEqual(same.json().scopes, ['firmware.sign:sensor-fw']);
    });

    test('rollover: new key and certificate; the old key is destroyed, its release keeps its own chain, and its time-stamped signature outlives the revocation (superseded) at the end of the overlap', async () => {
      const before = await signerRow('sensor-fw');
      const fw = image('fw-1.1.0.bin');
      const stamped = await sign('sensor-fw', { digest: fw.sha256, version: '1.1.0', timestamp: true });
      assert.equal(stamped.status, 201, stamped.body);
      const release = stamped.json();
      assert.equal(release.signerSerial, before.serial);

      const rolled = await hm.request('POST', 'signers/sensor-fw/rollover', { token: session, headers: fresh(), body: { overlapDays: 10 } });
      assert.equal(rolled.status, 200, rolled.body);
      assert.equal(rolled.json().generation, 2);
      assert.equal(rolled.json().replaced, before.serial);
      assert.equal(await keyOnToken(before.key_uri), false, 'the replaced key left the token');
      const after = await signerRow('sensor-fw');
      assert.notEqual(after.serial, before.serial);
      assert.equal(await keyOnToken(after.key_uri), true);

      // The old release answers with the old chain and still verifies; a new one is signed by the new key.
      const old = await hm.request('GET', `releases/${release.id}`, { token: pipeline });
      assert.equal(old.json().chain[0], stamped.json().chain[0]);
      assert.equal((await cmsVerify(Buffer.from(release.signature, 'base64'), fw.file)).code, 0);
      const next = image('fw-1.2.0.bin');
      const signedNew = await sign('sensor-fw', { digest: next.sha256, version: '1.2.0' });
      assert.equal(signedNew.status, 201, signedNew.body);
      assert.equal(signedNew.json().signerSerial, after.serial);
      assert.notEqual(signedNew.json().chain[0], release.chain[0]);
      assert.equal((await cmsVerify(Buffer.from(signedNew.json().signature, 'base64'), next.file)).code, 0);

      const shown = await hallmarkJson(env, 'signer', 'show', 'sensor-fw');
      assert.equal(shown.previousKeys.length, 1);
      assert.equal(shown.previousKeys[0].state, 'overlap');
      assert.equal(shown.previousKeys[0].serial, before.serial);

      // Within the overlap the old certificate is good; after it, revoked as superseded.
      assert.deepEqual(await endOverlaps(lifecycleDeps()), []);
      assert.equal((await certificateStatus(before.serial)).status, 'active');
      clock.advance(10 * DAY + 1000);
      assert.equal((await endOverlaps(lifecycleDeps())).length, 1);
      const revoked = await certificateStatus(before.serial);
      assert.deepEqual([revoked.status, revoked.revocation_reason], ['revoked', 'superseded']);
      assert.equal((await hallmarkJson(env, 'signer', 'show', 'sensor-fw')).previousKeys[0].state, 'superseded');

      // The relying party's check, with openssl alone: the CRL says superseded, after the time-stamp.
      const crlFile = path.join(dir, 'issuing.crl');
      let crlText = '';
      for (let i = 0; i < 100 && !crlText.includes(before.serial.toUpperCase()); i++) {
        const got = await run('curl', ['-sSf', '-o', crlFile, `http://127.0.0.1:${hm.running.http}/crl/issuing.crl`]);
        assert.equal(got.code, 0, got.stderr);
        crlText = (await run('openssl', ['crl', '-inform', 'DER', '-in', crlFile, '-noout', '-text'])).stdout;
        if (!crlText.includes(before.serial.toUpperCase())) await new Promise((r) => setTimeout(r, 100));
      }
      const entry = crlText.slice(crlText.indexOf(before.serial.toUpperCase()));
      assert.match(entry, /Superseded/);
      const revokedAt = new Date(/Revocation Date: (.+)/.exec(entry)![1]!);
      // openssl cms takes CRLs where it takes trusted certificates: the root and the CRL in one file.
      const rootAndCrl = path.join(dir, 'root-and-crl.pem');
      fs.writeFileSync(rootAndCrl, fs.readFileSync(files.rootFile, 'utf8') + (await run('openssl', ['crl', '-inform', 'DER', '-in', crlFile])).stdout);
      const now = String(Math.floor(clock.now().getTime() / 1000)); // this Hallmark's (manual) time
      const strict = await cmsVerify(Buffer.from(release.signature, 'base64'), fw.file, ['-crl_check', '-attime', now], rootAndCrl);
      assert.notEqual(strict.code, 0, 'a verifier that checks revocation alone now refuses it');
      assert.match(strict.stderr, /certificate revoked/);
      // …but the signature carries a time-stamp over its value, older than the revocation.
      const signed = AsnConvert.parse(AsnConvert.parse(Buffer.from(release.signature, 'base64'), ContentInfo).content, SignedData);
      const signerInfo = signed.signerInfos[0]!;
      const tokenFile = path.join(dir, 'stamp.tst');
      fs.writeFileSync(tokenFile, Buffer.from(signerInfo.unsignedAttrs!.find((a) => a.attrType === '1.2.840.113549.1.9.16.2.14')!.attrValues[0]!));
      const imprint = createHash('sha256').update(Buffer.from(signerInfo.signature.buffer)).digest('hex');
      const stampOk = await run('openssl', ['ts', '-verify', '-digest', imprint, '-in', tokenFile, '-token_in', '-CAfile', files.rootFile, '-untrusted', files.issuingFile]);
      assert.match(stampOk.stdout, /Verification: OK/, stampOk.stdout + stampOk.stderr);
      const stampText = (await run('openssl', ['ts', '-reply', '-in', tokenFile, '-token_in', '-text'])).stdout;
      const genTime = new Date(/Time stamp: (.+)/.exec(stampText)![1]!);
      assert.ok(genTime < revokedAt, `time-stamped ${genTime.toISOString()}, revoked ${revokedAt.toISOString()}`);
      // So at the time-stamp's time, the chain and signature hold (superseded does not reach back).
      const atTime = await cmsVerify(Buffer.from(release.signature, 'base64'), fw.file, ['-attime', String(Math.floor(genTime.getTime() / 1000))]);
      assert.equal(atTime.code, 0, atTime.stderr);
    });

    test('two-person: a pending release can be rejected with a reason; it holds back no later version, and asked for again it is pending anew', async () => {
      assert.equal((await hm.request('POST', 'signers', { token: await login(), headers: fresh(), body: { name: 'prod-fw', twoPerson: true } })).status, 201);
      const asker = (await createApiKey(hm.ctx.store, { role: 'admin', scopes: ['firmware.sign', 'release.read'], createdBy: 'test', now: clock.now() })).apiKey;
      const approver = (await createApiKey(hm.ctx.store, { role: 'admin', scopes: ['release.approve'], createdBy: 'test', now: clock.now() })).apiKey;
      const five = image('prod-5.bin');
      const pending = (await sign('prod-fw', { digest: five.sha256, version: '5.0.0' }, asker)).json();
      assert.equal(pending.status, 'pending');
      assert.equal((await hm.request('POST', `releases/${pending.id}/reject`, { token: approver, body: {} })).status, 400, 'a reason is needed');
      const rejected = await hm.request('POST', `releases/${pending.id}/reject`, { token: approver, body: { reason: 'not the reviewed build' } });
      assert.equal(rejected.status, 200, rejected.body);
      assert.equal(rejected.json().status, 'rejected');
      assert.equal(rejected.json().rejectionReason, 'not the reviewed build');
      assert.equal((await hm.request('POST', `releases/${pending.id}/approve`, { token: approver })).json().error.code, 'not_pending');
      const four = await sign('prod-fw', { digest: image('prod-4.bin').sha256, version: '4.0.0' }, asker);
      assert.equal(four.status, 202, `a rejected 5.0.0 holds back no 4.0.0: ${four.body}`);
      const again = await sign('prod-fw', { digest: five.sha256, version: '5.0.0' }, asker);
      assert.equal(again.status, 202, again.body);
      assert.equal(again.json().id, pending.id);
      assert.equal(again.json().status, 'pending');
      const cli = await hallmark(env, 'release', 'reject', String(pending.id), '--reason', 'still not it');
      assert.equal(cli.code, 0, cli.stderr);
      const actions = [...(await sql(hm.ctx.store)('audit_events').where('target', 'prod-fw@5.0.0')), ...(await sql(hm.ctx.store)('audit_pending').where('target', 'prod-fw@5.0.0'))].map((e) => e.action).sort();
      assert.deepEqual(actions, ['release.reject', 'release.reject', 'release.request', 'release.request']);
    });

    test('revocation (keyCompromise): key destroyed, pending releases rejected, the releases it signed listed; it signs nothing until a rollover', async () => {
      const row = await signerRow('prod-fw');
      const approver = (await createApiKey(hm.ctx.store, { role: 'admin', scopes: ['release.approve'], createdBy: 'test', now: clock.now() })).apiKey;
      const waiting = (await sql(hm.ctx.store)('releases').where({ signer: 'prod-fw', status: 'pending' })).map((r) => Number(r.id));
      assert.equal(waiting.length, 1);
      assert.equal((await hm.request('POST', `releases/${waiting[0]}/approve`, { token: approver })).status, 200);
      const signedIds = (await sql(hm.ctx.store)('releases').where({ signer: 'prod-fw', status: 'signed' })).map((r) => Number(r.id));
      const asker = (await createApiKey(hm.ctx.store, { role: 'admin', scopes: ['firmware.sign'], createdBy: 'test', now: clock.now() })).apiKey;
      const pending = (await sign('prod-fw', { digest: image('prod-6.bin').sha256, version: '6.0.0' }, asker)).json();

      const revoked = await hallmarkJson(env, 'signer', 'revoke', 'prod-fw', '--reason', 'keyCompromise', '--invalidity-date', new Date(Date.now() - DAY).toISOString()); // the CLI's clock is the system's
      assert.equal(revoked.serial, row.serial);
      assert.deepEqual(revoked.rejectedReleases, [pending.id]);
      assert.deepEqual(revoked.releasesSigned.map((r: { id: number }) => r.id), signedIds);
      assert.equal(await keyOnToken(row.key_uri), false);
      const status = await certificateStatus(row.serial);
      assert.deepEqual([status.status, status.revocation_reason], ['revoked', 'keyCompromise']);
      const refused = await sign('prod-fw', { digest: image('prod-7.bin').sha256, version: '7.0.0' }, asker);
      assert.equal(refused.status, 409);
      assert.equal(refused.json().error.code, 'signer_revoked');
      assert.equal((await hm.request('POST', 'signers/prod-fw/revoke', { token: await login(), headers: fresh(), body: { reason: 'keyCompromise' } })).json().error.code, 'already_revoked');

      // The compromise drill's second step: a rollover gives it a new key, with no overlap for the old one.
      const rolled = await hallmarkJson(env, 'signer', 'rollover', 'prod-fw');
      assert.equal(rolled.verifiableUntil, null);
      const shown = await hm.request('GET', 'signers/prod-fw', { token: pipeline });
      assert.equal(shown.json().status, 'active');
      assert.equal(shown.json().previousKeys[0].state, 'revoked');
      assert.equal((await sign('prod-fw', { digest: image('prod-7.bin').sha256, version: '7.0.0' }, asker)).status, 202);
    });

    test('a product line: a signer under a profile with products signs those products only, before and after a rollover', async () => {
      const created = await hm.request('POST', 'signers', { token: await login(), headers: fresh(), body: { name: 'line-fw', profile: 'sensor-line-signer' } });
      assert.equal(created.status, 201, created.body);
      const admin = (await createApiKey(hm.ctx.store, { role: 'admin', scopes: ['firmware.sign'], createdBy: 'test', now: clock.now() })).apiKey;
      assert.equal((await sign('line-fw', { product: 'sensor-a', digest: image('l1.bin').sha256, version: '1.0.0' }, admin)).status, 201);
      const other = await sign('line-fw', { product: 'gateway', digest: image('l2.bin').sha256, version: '1.0.0' }, admin);
      assert.equal(other.status, 403, other.body);
      assert.equal(other.json().error.code, 'product_not_allowed');
      await hallmarkJson(env, 'signer', 'rollover', 'line-fw');
      assert.equal((await sign('line-fw', { product: 'gateway', digest: image('l3.bin').sha256, version: '1.0.0' }, admin)).json().error.code, 'product_not_allowed');
      assert.equal((await sign('line-fw', { product: 'sensor-b', digest: image('l4.bin').sha256, version: '1.0.0' }, admin)).status, 201);
    });

    test('retirement: signs nothing more, key destroyed, pending rejected; its certificate is not revoked (what it signed verifies until it expires); retired is final', async () => {
      const row = await signerRow('other-fw');
      const retired = await hm.request('POST', 'signers/other-fw/retire', { token: await login(), headers: fresh() });
      assert.equal(retired.status, 200, retired.body);
      assert.equal(await keyOnToken(row.key_uri), false);
      assert.equal((await certificateStatus(row.serial)).status, 'active');
      const admin = (await createApiKey(hm.ctx.store, { role: 'admin', scopes: ['firmware.sign'], createdBy: 'test', now: clock.now() })).apiKey;
      const refused = await sign('other-fw', { digest: image('o.bin').sha256, version: '1.0.0' }, admin);
      assert.equal(refused.json().error.code, 'signer_retired');
      assert.equal((await hm.request('POST', 'signers/other-fw/rollover', { token: session, headers: fresh(), body: {} })).json().error.code, 'signer_retired');
      assert.equal((await hallmark(env, 'signer', 'retire', 'other-fw')).code !== 0, true);
      // From a fresh process, whose token holds no key for it any more: shown, and refused as retired.
      const shown = await hallmarkJson(env, 'signer', 'show', 'other-fw');
      assert.equal(shown.status, 'retired');
      const cliSign = await hallmark(env, 'sign', '--signer', 'other-fw', '--file', image('o2.bin').file, '--version', '1.0.0', '--out', path.join(dir, 'o2.p7s'));
      assert.notEqual(cliSign.code, 0);
      assert.match(cliSign.stderr, /retired/);
      const list = await hallmarkJson(env, 'signer', 'list');
      assert.equal(list.find((s: { name: string }) => s.name === 'other-fw').status, 'retired');
      const actions = [...(await sql(hm.ctx.store)('audit_events').where('target', 'other-fw')), ...(await sql(hm.ctx.store)('audit_pending').where('target', 'other-fw'))].map((e) => e.action).sort();
      assert.deepEqual(actions, ['signer.create', 'signer.key_destroy', 'signer.retire']);
    });

    test('after a compromise of the issuing CA, a signer certified by it signs nothing until rolled over onto the successor', async () => {
      const before = await signerRow('sensor-fw');
      await hallmarkJson(env, 'ca', 'rollover', 'issuing');
      await hallmarkJson(env, 'ca', 'revoke', before.ca, '--reason', 'keyCompromise');
      await hm.running.issue.issuers.refresh();
      const refused = await sign('sensor-fw', { digest: image('c1.bin').sha256, version: '9.0.0' });
      assert.equal(refused.status, 409, refused.body);
      assert.equal(refused.json().error.code, 'signer_ca_revoked');
      assert.match(refused.json().error.message, /signer rollover sensor-fw/);
      assert.equal((await hallmarkJson(env, 'signer', 'show', 'sensor-fw')).chain.length, 1, 'shown without the revoked CA');
      const rolled = await hm.request('POST', 'signers/sensor-fw/rollover', { token: await login(), headers: fresh(), body: { overlapDays: 0 } });
      assert.equal(rolled.status, 200, rolled.body);
      const after = await signerRow('sensor-fw');
      assert.notEqual(after.ca, before.ca);
      const fw = image('c2.bin');
      const signed = await sign('sensor-fw', { digest: fw.sha256, version: '9.0.0' });
      assert.equal(signed.status, 201, signed.body);
      // The new chain leads to the same root through the successor: openssl verifies with the root alone.
      assert.equal((await cmsVerify(Buffer.from(signed.json().signature, 'base64'), fw.file)).code, 0);
    });
  });
}
