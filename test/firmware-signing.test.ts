import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { BACKENDS } from './helpers/backends.js';
import { startInProcess, writeChainFiles, type InProcessHallmark } from './helpers/in-process.js';
import { cliEnv, hallmark, hallmarkJson } from './helpers/cli.js';
import { run } from './helpers/run.js';
import { createApiKey } from '../src/auth/api-keys.js';
import { sql } from '../src/store/handle.js';
import { revokeCertificate } from '../src/ca/revoke.js';
import { AsnConvert } from '@peculiar/asn1-schema';
import { ContentInfo, SignedData } from '@peculiar/asn1-cms';
import { sequenced } from './helpers/sequenced.js';

/**
 * Firmware signing (docs/firmware-signing.md): a signer's key on the token, images signed by digest
 * through the CLI and REST, checked by openssl (cms -verify, dgst -verify) with only the root; release
 * records before signatures, the same digest answered with the same record, rollback refused.
 */

let home: TestHome;
before(async () => {
  home = await makeTestHome(['sign-sqlite', 'sign-postgres']);
});
after(() => home?.cleanup());

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`firmware signing on ${backend.name}`, () => {
    let hm: InProcessHallmark;
    let env: NodeJS.ProcessEnv;
    let dir: string;
    let files: ReturnType<typeof writeChainFiles>;
    let pipelineKey: string;
    const image = (name: string) => {
      const file = path.join(dir, name);
      fs.writeFileSync(file, randomBytes(200_000));
      return { file, sha256: createHash('sha256').update(fs.readFileSync(file)).digest('hex') };
    };
    const releases = async () => Number((await sql(hm.ctx.store)('releases').count({ n: '*' }))[0]!.n);

    before(async () => {
      hm = await startInProcess(home, backend, `sign-${backend.name}`);
      env = await cliEnv(home, backend, `sign-${backend.name}`);
      dir = fs.mkdtempSync(path.join(home.home, `sign-${backend.name}-`));
      files = writeChainFiles(hm, dir);
      // A release pipeline's credential: an admin key narrowed to signing.
      pipelineKey = (await createApiKey(hm.ctx.store, { role: 'admin', scopes: ['firmware.sign', 'release.read'], createdBy: 'test', now: new Date() })).apiKey;
    });
    after(async () => {
      await hm?.close();
      await backend.cleanup();
    });

    test('a signer made on the token signs an image from the CLI; openssl cms -verify accepts it with only the root, and refuses a changed image', async () => {
      const signer = await hallmarkJson(env, 'signer', 'create', '--name', 'sensor-fw');
      assert.equal(signer.keyType, 'ec-p256');
      const key = await sql(hm.ctx.store)('signers').where({ name: 'sensor-fw' }).first();
      const protection = await hm.ctx.keys!.describeProtection({ token: `sign-${backend.name}`, object: key.key_uri.match(/object=([^;]+)/)![1]! });
      assert.deepEqual([protection.sensitive, protection.extractable, protection.neverExtractable], [true, false, true], 'the key never leaves the token');

      const fw = image('fw-1.0.0.bin');
      const out = path.join(dir, 'fw-1.0.0.p7s');
      const signed = await hallmarkJson(env, 'sign', '--signer', 'sensor-fw', '--file', fw.file, '--product', 'sensor', '--version', '1.0.0', '--out', out);
      assert.equal(signed.digest, fw.sha256);
      assert.equal(signed.replayed, false);
      // OpenSSL 3.0 knows no code-signing purpose (3.2 adds codesign): its default, S/MIME signing, wants
      // emailProtection, so a verifier says -purpose any and checks codeSigning itself (docs/firmware-signing.md).
      const smime = await run('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', out, '-content', fw.file, '-CAfile', files.rootFile, '-out', path.join(dir, 'verified')]);
      assert.match(smime.stderr, /unsuitable certificate purpose/);
      const verify = await run('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', out, '-content', fw.file, '-CAfile', files.rootFile, '-purpose', 'any', '-out', path.join(dir, 'verified')]);
      assert.equal(verify.code, 0, verify.stderr);
      assert.match(verify.stderr, /Verification successful/);
      const printed = await run('openssl', ['cms', '-cmsout', '-print', '-inform', 'DER', '-in', out]);
      for (const attribute of ['contentType', 'signingTime', 'messageDigest', 'id-smime-aa-signingCertificateV2']) assert.match(printed.stdout, new RegExp(attribute), attribute);

      const changed = path.join(dir, 'changed.bin');
      fs.writeFileSync(changed, Buffer.concat([fs.readFileSync(fw.file), Buffer.of(0)]));
      const refused = await run('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', out, '-content', changed, '-CAfile', files.rootFile, '-purpose', 'any', '-out', path.join(dir, 'verified')]);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /digest failure|verification failure/i);
    });

    test('REST: a raw signature over the digest that openssl dgst -verify accepts with the signer key, r‖s alongside; the same digest again is the same record', async () => {
      const fw = image('fw-1.1.0.bin');
      const body = { digestAlgorithm: 'sha256', digest: fw.sha256, product: 'sensor', version: '1.1.0', format: 'raw', metadata: { build: '4711' } };
      const r = await hm.request('POST', 'signers/sensor-fw/signatures', { token: pipelineKey, body });
      assert.equal(r.status, 201, r.body);
      const release = r.json();
      assert.equal(Buffer.from(release.signatureP1363, 'base64').length, 64);
      fs.writeFileSync(path.join(dir, 'fw.sig'), Buffer.from(release.signature, 'base64'));
      fs.writeFileSync(path.join(dir, 'signer.pem'), release.chain[0]);
      const pub = await run('openssl', ['x509', '-in', path.join(dir, 'signer.pem'), '-pubkey', '-noout']);
      fs.writeFileSync(path.join(dir, 'signer.pub'), pub.stdout);
      const verified = await run('openssl', ['dgst', '-sha256', '-verify', path.join(dir, 'signer.pub'), '-signature', path.join(dir, 'fw.sig'), fw.file]);
      assert.match(verified.stdout, /Verified OK/, verified.stdout + verified.stderr);
      const text = await run('openssl', ['x509', '-in', path.join(dir, 'signer.pem'), '-noout', '-ext', 'keyUsage,extendedKeyUsage']);
      assert.match(text.stdout, /Key Usage: critical\s+Digital Signature/);
      assert.match(text.stdout, /Code Signing/);

      const again = await hm.request('POST', 'signers/sensor-fw/signatures', { token: pipelineKey, body });
      assert.equal(again.status, 200, again.body);
      assert.equal(again.json().id, release.id);
      assert.equal(again.json().replayed, true);
      const asOther = await hm.request('POST', 'signers/sensor-fw/signatures', { token: pipelineKey, body: { ...body, version: '1.2.0' } });
      assert.equal(asOther.status, 409);
      assert.equal(asOther.json().error.code, 'digest_signed');
      const listed = await hm.request('GET', 'releases?product=sensor', { token: pipelineKey });
      assert.deepEqual(listed.json().map((x: { version: string }) => x.version), ['1.1.0', '1.0.0']);
    });

    test('an RSA signer: its raw signature is RSASSA-PSS that openssl dgst -verify accepts with PSS options (and refuses as PKCS#1 v1.5); its CMS verifies', async () => {
      const signer = await hallmarkJson(env, 'signer', 'create', '--name', 'rsa-fw', '--key', 'rsa-3072');
      assert.equal(signer.keyType, 'rsa-3072');
      const rsaKey = (await createApiKey(hm.ctx.store, { role: 'admin', scopes: ['firmware.sign:rsa-fw'], createdBy: 'test', now: new Date() })).apiKey;
      const fw = image('rsa-1.0.0.bin');
      const r = await hm.request('POST', 'signers/rsa-fw/signatures', { token: rsaKey, body: { digestAlgorithm: 'sha256', digest: fw.sha256, product: 'rsa', version: '1.0.0', format: 'raw' } });
      assert.equal(r.status, 201, r.body);
      assert.equal(r.json().signatureP1363, undefined, 'r‖s is for ECDSA');
      const sig = path.join(dir, 'rsa.sig');
      fs.writeFileSync(sig, Buffer.from(r.json().signature, 'base64'));
      assert.equal(fs.statSync(sig).size, 384);
      fs.writeFileSync(path.join(dir, 'rsa-signer.pem'), r.json().chain[0]);
      fs.writeFileSync(path.join(dir, 'rsa-signer.pub'), (await run('openssl', ['x509', '-in', path.join(dir, 'rsa-signer.pem'), '-pubkey', '-noout'])).stdout);
      const pss = await run('openssl', ['dgst', '-sha256', '-verify', path.join(dir, 'rsa-signer.pub'), '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32', '-sigopt', 'rsa_mgf1_md:sha256', '-signature', sig, fw.file]);
      assert.match(pss.stdout, /Verified OK/, pss.stdout + pss.stderr);
      const pkcs1 = await run('openssl', ['dgst', '-sha256', '-verify', path.join(dir, 'rsa-signer.pub'), '-signature', sig, fw.file]);
      assert.doesNotMatch(pkcs1.stdout, /Verified OK/);
      const cms = path.join(dir, 'rsa.p7s');
      await hallmarkJson(env, 'sign', '--signer', 'rsa-fw', '--file', fw.file, '--product', 'rsa', '--version', '1.0.0', '--out', cms);
      const verify = await run('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', cms, '-content', fw.file, '-CAfile', files.rootFile, '-purpose', 'any', '-out', path.join(dir, 'verified')]);
      assert.equal(verify.code, 0, verify.stderr);
    });

    test('rollback: a version not above every one signed is refused and nothing is written; an API key cannot override, the CLI can with a reason, audited', async () => {
      const old = image('fw-1.0.5.bin');
      const before = await releases();
      const body = { digestAlgorithm: 'sha256', digest: old.sha256, product: 'sensor', version: '1.0.5' };
      const refused = await hm.request('POST', 'signers/sensor-fw/signatures', { token: pipelineKey, body });
      assert.equal(refused.status, 409, refused.body);
      assert.equal(refused.json().error.code, 'rollback_refused');
      assert.match(refused.json().error.message, /1\.1\.0/);
      const byKey = await hm.request('POST', 'signers/sensor-fw/signatures', { token: pipelineKey, body: { ...body, rollbackOverride: 'field recall' } });
      assert.equal(byKey.status, 403, byKey.body);
      assert.equal(await releases(), before, 'nothing recorded');
      const equal = await hm.request('POST', 'signers/sensor-fw/signatures', { token: pipelineKey, body: { ...body, digest: image('fw-1.1.b.bin').sha256, version: '1.1' } });
      assert.equal(equal.json().error.code, 'rollback_refused', '1.1 is 1.1.0');
      const another = await hm.request('POST', 'signers/sensor-fw/signatures', { token: pipelineKey, body: { ...body, channel: 'beta' } });
      assert.equal(another.status, 201, 'another channel has its own versions');

      const out = path.join(dir, 'fw-1.0.5.p7s');
      const cli = await hallmark(env, 'sign', '--signer', 'sensor-fw', '--file', old.file, '--product', 'sensor', '--version', '1.0.5', '--out', out);
      assert.notEqual(cli.code, 0);
      assert.match(cli.stderr, /rollback/);
      const overridden = await hallmarkJson(env, 'sign', '--signer', 'sensor-fw', '--file', old.file, '--product', 'sensor', '--version', '1.0.5', '--rollback-override', 'field recall of 1.1.0', '--out', out);
      assert.equal(overridden.rollbackOverride, 'field recall of 1.1.0');
      // Read once chained: reading audit_events and then audit_pending could miss an entry sequenced in between.
      const audited = await sql(await sequenced(hm.ctx.store))('audit_events').where({ action: 'release.sign', target: 'sensor@1.0.5' });
      const details = audited.map((e) => JSON.parse(e.details));
      assert.ok(details.some((d) => d.rollbackOverride === 'field recall of 1.1.0' && d.channel === 'stable'), JSON.stringify(details));
    });

    test('rollback under concurrency: versions asked for at once are recorded in rising order, whatever the interleaving', async () => {
      const versions = Array.from({ length: 12 }, (_, i) => `9.0.${i}`).sort(() => Math.random() - 0.5);
      const answers = await Promise.all(versions.map((version) => hm.request('POST', 'signers/sensor-fw/signatures', { token: pipelineKey, body: { digestAlgorithm: 'sha256', digest: image(`race-${version}.bin`).sha256, product: 'race', version, format: 'raw' } })));
      for (const a of answers) assert.ok(a.status === 201 || (a.status === 409 && a.json().error.code === 'rollback_refused'), a.body);
      const recorded = (await sql(hm.ctx.store)('releases').where({ product: 'race' }).orderBy('id')).map((r) => Number(r.version.split('.')[2]));
      assert.ok(recorded.length >= 1);
      assert.deepEqual(recorded, [...recorded].sort((a, b) => a - b), `recorded in rising order: ${recorded}`);
      assert.equal(new Set(recorded).size, recorded.length);
    });

    test('a time-stamped CMS signature (RFC 3161 appendix A): openssl cms -verify accepts it, and openssl ts -verify checks its token against the signature value', async () => {
      const fw = image('fw-1.5.0.bin');
      const r = await hm.request('POST', 'signers/sensor-fw/signatures', { token: pipelineKey, body: { digestAlgorithm: 'sha256', digest: fw.sha256, product: 'sensor', version: '1.5.0', timestamp: true } });
      assert.equal(r.status, 201, r.body);
      assert.equal(r.json().timestamped, true);
      const der = Buffer.from(r.json().signature, 'base64');
      const out = path.join(dir, 'fw-1.5.0.p7s');
      fs.writeFileSync(out, der);
      const verify = await run('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', out, '-content', fw.file, '-CAfile', files.rootFile, '-purpose', 'any', '-out', path.join(dir, 'verified')]);
      assert.equal(verify.code, 0, verify.stderr);

      const signed = AsnConvert.parse(AsnConvert.parse(der, ContentInfo).content, SignedData);
      const signerInfo = signed.signerInfos[0]!;
      const attribute = signerInfo.unsignedAttrs?.find((a) => a.attrType === '1.2.840.113549.1.9.16.2.14');
      assert.ok(attribute, 'id-aa-timeStampToken');
      const token = path.join(dir, 'fw-1.5.0.tst');
      fs.writeFileSync(token, Buffer.from(attribute.attrValues[0]!));
      const imprint = createHash('sha256').update(Buffer.from(signerInfo.signature.buffer)).digest('hex');
      const checked = await run('openssl', ['ts', '-verify', '-digest', imprint, '-in', token, '-token_in', '-CAfile', files.rootFile, '-untrusted', files.issuingFile]);
      assert.match(checked.stdout, /Verification: OK/, checked.stdout + checked.stderr);
      const wrong = await run('openssl', ['ts', '-verify', '-digest', createHash('sha256').update('other').digest('hex'), '-in', token, '-token_in', '-CAfile', files.rootFile, '-untrusted', files.issuingFile]);
      assert.doesNotMatch(wrong.stdout, /Verification: OK/);
      assert.equal((await hm.request('POST', 'signers/sensor-fw/signatures', { token: pipelineKey, body: { digestAlgorithm: 'sha256', digest: image('x.bin').sha256, product: 'sensor', version: '1.6.0', format: 'raw', timestamp: true } })).status, 400, 'a time-stamp needs CMS');
    });

    test('two-person rule: a release of such a signer waits (202, no signature) until a second, different principal approves; then openssl verifies it', async () => {
      await hallmarkJson(env, 'signer', 'create', '--name', 'prod-fw', '--two-person');
      const both = (await createApiKey(hm.ctx.store, { role: 'admin', scopes: ['firmware.sign', 'release.approve', 'release.read'], createdBy: 'test', now: new Date() })).apiKey;
      const approver = (await createApiKey(hm.ctx.store, { role: 'admin', scopes: ['release.approve'], createdBy: 'test', now: new Date() })).apiKey;
      const fw = image('prod-3.0.0.bin');
      const asked = await hm.request('POST', 'signers/prod-fw/signatures', { token: both, body: { digestAlgorithm: 'sha256', digest: fw.sha256, product: 'prod', version: '3.0.0' } });
      assert.equal(asked.status, 202, asked.body);
      const pending = asked.json();
      assert.equal(pending.status, 'pending');
      assert.equal(pending.signature, undefined);
      assert.equal(pending.release, pending.id);

      const self = await hm.request('POST', `releases/${pending.id}/approve`, { token: both });
      assert.equal(self.status, 403, self.body);
      assert.equal(self.json().error.code, 'same_person');
      assert.equal((await hm.request('POST', `releases/${pending.id}/approve`, { token: pipelineKey })).status, 403, 'release.approve is needed');

      const approved = await hm.request('POST', `releases/${pending.id}/approve`, { token: approver });
      assert.equal(approved.status, 200, approved.body);
      assert.equal(approved.json().status, 'signed');
      assert.ok(approved.json().approvedBy);
      const out = path.join(dir, 'prod.p7s');
      fs.writeFileSync(out, Buffer.from(approved.json().signature, 'base64'));
      const verify = await run('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', out, '-content', fw.file, '-CAfile', files.rootFile, '-purpose', 'any', '-out', path.join(dir, 'verified')]);
      assert.equal(verify.code, 0, verify.stderr);
      assert.equal((await hm.request('POST', `releases/${pending.id}/approve`, { token: approver })).json().error.code, 'not_pending');
      // Read once chained: reading audit_events and then audit_pending could miss entries sequenced in between.
      const actions = (await sql(await sequenced(hm.ctx.store))('audit_events').where('target', 'prod@3.0.0')).map((e) => e.action);
      assert.deepEqual(actions.sort(), ['release.approve', 'release.request']);

      // Approval checks rollback again: 3.1.0 waits, 3.2.0 is asked for after it, then 3.1.0's approval is a rollback.
      const older = (await hm.request('POST', 'signers/prod-fw/signatures', { token: both, body: { digestAlgorithm: 'sha256', digest: image('prod-3.1.0.bin').sha256, product: 'prod', version: '3.1.0' } })).json();
      assert.equal((await hm.request('POST', 'signers/prod-fw/signatures', { token: both, body: { digestAlgorithm: 'sha256', digest: image('prod-3.2.0.bin').sha256, product: 'prod', version: '3.2.0' } })).status, 202);
      const late = await hm.request('POST', `releases/${older.id}/approve`, { token: approver });
      assert.equal(late.status, 409, late.body);
      assert.equal(late.json().error.code, 'rollback_refused');
    });

    test('who may sign: never a station, a device or an unscoped key; bad input is a 400 and writes nothing; a revoked signer signs nothing', async () => {
      const before = await releases();
      const fw = image('fw-2.0.0.bin');
      const body = { digestAlgorithm: 'sha256', digest: fw.sha256, product: 'sensor', version: '2.0.0' };
      for (const role of ['station', 'device', 'operator', 'read-only'] as const) {
        const key = (await createApiKey(hm.ctx.store, { role, createdBy: 'test', now: new Date() })).apiKey;
        assert.equal((await hm.request('POST', 'signers/sensor-fw/signatures', { token: key, body })).status, 403, role);
      }
      const unscopedAdmin = (await createApiKey(hm.ctx.store, { role: 'admin', createdBy: 'test', now: new Date() })).apiKey;
      assert.equal((await hm.request('POST', 'signers/sensor-fw/signatures', { token: unscopedAdmin, body })).status, 403, 'high impact: a key scoped for it');
      for (const bad of [{ ...body, digest: 'zz' }, { ...body, digest: fw.sha256.slice(2) }, { ...body, version: 'v2' }, { ...body, product: '../x' }, { ...body, digestAlgorithm: 'md5' }, { ...body, format: 'raw', digestAlgorithm: 'sha384', digest: 'ab'.repeat(48) }]) {
        const r = await hm.request('POST', 'signers/sensor-fw/signatures', { token: pipelineKey, body: bad });
        assert.equal(r.status, 400, `${JSON.stringify(bad)}: ${r.body}`);
      }
      assert.equal((await hm.request('POST', 'signers/no-such/signatures', { token: pipelineKey, body })).status, 404);
      assert.equal(await releases(), before);

      const signer = await sql(hm.ctx.store)('signers').where({ name: 'sensor-fw' }).first();
      await revokeCertificate(hm.running.revocation, { serial: signer.serial, reason: 'superseded', actor: 'test' });
      const r = await hm.request('POST', 'signers/sensor-fw/signatures', { token: pipelineKey, body });
      assert.equal(r.status, 409);
      assert.equal(r.json().error.code, 'signer_revoked');
      assert.equal(await releases(), before);
    });
  });
}
