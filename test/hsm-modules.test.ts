import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { constants, createPublicKey, publicEncrypt, verify as verifySignature } from 'node:crypto';
import { createPkcs11KeyStore } from '../src/keys/pkcs11/store.js';
import type { KeyStore } from '../src/keys/key-store.js';
import type { CaKeyType } from '../src/x509/key-types.js';
import { signatureAlgorithmFor } from '../src/x509/signature-algorithms.js';
import { closeAllSessions, workingCopiesOf, openCryptoki, softHsm, tpm2Pkcs11, type ModuleUnderTest } from './helpers/pkcs11-modules.js';
import { configCopy } from './helpers/in-process.js';
import { hallmark, hallmarkJson } from './helpers/cli.js';
import { startServer, type RunningServer } from './helpers/server.js';
import { opensslCsr } from './helpers/csr.js';
import { mustRun, run } from './helpers/run.js';

/**
 * The same key-store, `hsm check` and end-to-end tests on three PKCS#11 implementations, each started
 * here: SoftHSM2, openCryptoki's software token (pkcsslotd), and a TPM through tpm2-pkcs11 (swtpm).
 * What each lacks is pinned: Hallmark names it and never falls back to a weaker choice.
 */
interface Expectation {
  start(dir: string): Promise<ModuleUnderTest>;
  ready: CaKeyType[];
  /** Key types it cannot hold, and the words Hallmark uses to say why. */
  unusable: Partial<Record<CaKeyType, RegExp>>;
  sealing: 'aes-256-gcm' | 'aes-256-cbc-signed';
  /** The CA hierarchy's key types (root, issuing) for the end-to-end run. */
  hierarchy: [CaKeyType, CaKeyType];
  /** Does it copy a private key into a session object (C_CopyObject), so signing skips the object store? */
  workingCopies: boolean;
}

const MODULES: Record<ModuleUnderTest['name'], Expectation> = {
  softhsm: { start: softHsm, ready: ['ec-p256', 'ec-p384', 'rsa-3072', 'rsa-4096'], unusable: {}, sealing: 'aes-256-gcm', hierarchy: ['ec-p384', 'ec-p256'], workingCopies: true },
  // Debian's openCryptoki 3.8 software token: RSA only, no AES-GCM.
  opencryptoki: {
    start: openCryptoki,
    ready: ['rsa-3072', 'rsa-4096'],
    unusable: { 'ec-p256': /it offers no CKM_EC_KEY_PAIR_GEN and no CKM_ECDSA/, 'ec-p384': /it offers no CKM_EC_KEY_PAIR_GEN and no CKM_ECDSA/ },
    sealing: 'aes-256-cbc-signed',
    hierarchy: ['rsa-4096', 'rsa-3072'],
    workingCopies: true,
  },
  // tpm2-pkcs11 1.9: RSA up to 3072 bits, and CKM_RSA_PKCS only through TPM2_RSA_Decrypt (a key that may decrypt), so EC only; no AES-GCM;
  // no C_CopyObject (CKR_FUNCTION_NOT_SUPPORTED), so it signs with the stored object.
  'tpm2-pkcs11': {
    start: tpm2Pkcs11,
    ready: ['ec-p256', 'ec-p384'],
    unusable: { 'rsa-3072': /the token made the key but does not sign with it/, 'rsa-4096': /goes up to 3072 bits, not 4096/ },
    sealing: 'aes-256-cbc-signed',
    hierarchy: ['ec-p384', 'ec-p256'],
    workingCopies: false,
  },
};

const hashOf = (keyType: CaKeyType) => signatureAlgorithmFor(keyType).hash;
const verifies = (spki: Uint8Array, data: Buffer, signature: Uint8Array, hash: string) => verifySignature(hash, data, createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }), signature);

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hallmark-modules-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

for (const [name, expected] of Object.entries(MODULES)) {
  describe(`PKCS#11 module: ${name}`, () => {
    let module: ModuleUnderTest;
    let keys: KeyStore;
    let dir: string;
    const cliEnv = (extra: NodeJS.ProcessEnv = {}) => {
      const env: NodeJS.ProcessEnv = { ...process.env, ...module.env, HALLMARK_HOME: path.join(dir, 'home'), ...extra };
      delete env.DATABASE_URL;
      delete env.HALLMARK_PKCS11_PIN;
      return env;
    };
    const configWith = (file: string, [rootKey, issuingKey]: [CaKeyType, CaKeyType]) =>
      configCopy(path.join(dir, file), (c) => {
        c.cas[0].key = rootKey;
        c.cas[1].key = issuingKey;
      });

    before(async () => {
      dir = fs.mkdtempSync(path.join(root, `${name}-`));
      module = await expected.start(dir);
      // The module reads its own variables (SOFTHSM2_CONF, TPM2_PKCS11_*) when this process loads it.
      for (const [k, v] of Object.entries(module.env)) if (!k.startsWith('HALLMARK_')) process.env[k] = v;
      keys = createPkcs11KeyStore({ modulePath: module.modulePath, tokenLabel: module.tokenLabel, pin: module.pin, sessions: 4 });
    });
    after(async () => {
      await keys?.close();
      await module?.stop();
    });

    test('hsm check: a verdict per CA key type, sealing, sessions; ready for the hierarchy it can hold, not for one it cannot', async () => {
      const fits = configWith('fits', expected.hierarchy);
      const result = await hallmark(cliEnv({ HALLMARK_CONFIG: fits }), 'hsm', 'check', '--json');
      const report = JSON.parse(result.stdout);
      fs.writeFileSync(path.join(dir, 'hsm-check.json'), result.stdout);
      assert.equal(result.code, 0, result.stderr + result.stdout);
      assert.equal(report.ready, true);
      for (const keyType of expected.ready) assert.equal(report.keyTypes.find((k: { keyType: string }) => k.keyType === keyType).verdict, 'ready', keyType);
      for (const [keyType, why] of Object.entries(expected.unusable)) {
        const verdict = report.keyTypes.find((k: { keyType: string }) => k.keyType === keyType);
        assert.equal(verdict.verdict, 'unusable', keyType);
        assert.match(verdict.detail, why!);
      }
      assert.equal(report.capabilities.sealing, expected.sealing);
      assert.equal(report.steps.find((s: { check: string }) => s.check === 'sealing').result, 'ok');
      assert.ok(report.sessionsGranted >= 4, `sessions: ${report.sessionsGranted}`);
      // Nothing left behind but what the module itself keeps (hallmark-check-* keys it could not sign with).
      const unsigned = Object.keys(expected.unusable).filter((k) => /does not sign/.test(String(expected.unusable[k as CaKeyType])));
      const cleanup = report.steps.find((s: { check: string }) => s.check === 'cleanup');
      if (!unsigned.length) assert.equal(cleanup, undefined);
      // tpm2-pkcs11 keeps a key it failed to sign with in spite of C_DestroyObject: the check says so, by name.
      else assert.match(cleanup.detail, new RegExp(`hallmark-check-${unsigned[0]}-[0-9a-f]+ may remain`));

      // A configuration whose key types the token cannot make: not ready, exit 1, and the text says why.
      const unusable = Object.keys(expected.unusable) as CaKeyType[];
      if (unusable.length) {
        const wrong = configWith('wrong', [unusable[0]!, unusable[0]!]);
        const refused = await hallmark(cliEnv({ HALLMARK_CONFIG: wrong }), 'hsm', 'check');
        assert.equal(refused.code, 1);
        assert.match(refused.stderr, /not ready: a key type the CA configuration uses/);
        assert.match(refused.stdout, new RegExp(`${unusable[0]}\\s+yes\\s+unusable`));
      }
    });

    test('key store: every key type it can hold is made sensitive and non-extractable and signs; one it cannot is refused by name', async () => {
      for (const keyType of expected.ready) {
        const uri = { token: module.tokenLabel, object: `ks-${keyType}`, id: Uint8Array.of(7, 7) };
        const signer = await keys.createKey(uri, keyType);
        assert.deepEqual(await keys.describeProtection(uri), { token: true, private: true, sensitive: true, extractable: false, alwaysSensitive: true, neverExtractable: true }, keyType);
        const data = Buffer.from(`signed by ${keyType} on ${name}`);
        assert.ok(verifies(signer.spki, data, await signer.sign(data), hashOf(keyType)), keyType);
        assert.deepEqual((await keys.getSigner(uri)).spki, signer.spki);
      }
      for (const [keyType, why] of Object.entries(expected.unusable)) {
        const gap = (await keys.capabilities()).keyTypeGaps[keyType as CaKeyType];
        if (gap) await assert.rejects(keys.createKey({ token: module.tokenLabel, object: `ks-no-${keyType}` }, keyType as CaKeyType), (e: Error) => new RegExp(`cannot make ${keyType} keys: `).test(e.message) && why!.test(e.message));
      }
    });

    test('key store: 100 concurrent signatures over 4 sessions; a lost session comes back', async () => {
      const keyType = expected.ready[0]!;
      const signer = await keys.createKey({ token: module.tokenLabel, object: 'ks-concurrent' }, keyType);
      const inputs = Array.from({ length: 100 }, (_, i) => Buffer.from(`message ${i}`));
      const signatures = await Promise.all(inputs.map((d) => signer.sign(d)));
      signatures.forEach((s, i) => assert.ok(verifies(signer.spki, inputs[i]!, s, hashOf(keyType)), `signature ${i}`));
      // Signing goes through a session-object copy where the module makes one (working-copies.ts).
      assert.equal(workingCopiesOf(module, 'ks-concurrent') > 0, expected.workingCopies, 'working copy made or not, as this module allows');
      closeAllSessions(module); // every session of this process is gone, and with them the login
      const data = Buffer.from('after the sessions were closed');
      assert.ok(verifies(signer.spki, data, await signer.sign(data), hashOf(keyType)));
    });

    test('a key another process made after this one loaded the module is found (tpm2-pkcs11 reads its objects when it initialises)', async () => {
      const keyType = expected.ready[0]!;
      const object = `ks-other-process-${keyType}`;
      const child = `import { createPkcs11KeyStore } from ${JSON.stringify(path.join(process.cwd(), 'dist', 'src', 'keys', 'pkcs11', 'store.js'))};
const keys = createPkcs11KeyStore({ modulePath: process.env.HALLMARK_PKCS11_MODULE, tokenLabel: process.env.HALLMARK_PKCS11_TOKEN, pin: process.env.PIN });
const signer = await keys.createKey({ token: process.env.HALLMARK_PKCS11_TOKEN, object: ${JSON.stringify(object)} }, ${JSON.stringify(keyType)});
process.stdout.write(Buffer.from(signer.spki).toString('hex'));
await keys.close();`;
      const script = path.join(dir, 'other-process.mjs');
      fs.writeFileSync(script, child);
      const spki = await mustRun('node', [script], { env: { ...process.env, ...module.env, PIN: module.pin } });
      const signer = await keys.getSigner({ token: module.tokenLabel, object });
      assert.equal(Buffer.from(signer.spki).toString('hex'), spki);
      const data = Buffer.from('signed with a key from elsewhere');
      assert.ok(verifies(signer.spki, data, await signer.sign(data), hashOf(keyType)));
    });

    test(`sealing (${expected.sealing}): a secret opens in its own context only, and an altered one not at all`, async () => {
      const sealer = await keys.getSealer({ token: module.tokenLabel, object: 'hallmark-secrets' });
      const secret = Buffer.from('a TOTP seed');
      const sealed = await sealer.seal(secret, 'operator:alice');
      assert.deepEqual(Buffer.from(await sealer.open(sealed, 'operator:alice')), secret);
      await assert.rejects(sealer.open(sealed, 'operator:bob'), /does not authenticate/);
      for (const at of [20, sealed.length - 1]) {
        const altered = Buffer.from(sealed);
        altered[at]! ^= 1;
        await assert.rejects(sealer.open(altered, 'operator:alice'), /does not authenticate|malformed/);
      }
      assert.equal(sealed[0], expected.sealing === 'aes-256-gcm' ? 1 : 2, 'the scheme is in the sealed value');
      if (name === 'tpm2-pkcs11') {
        // It does not generate AES keys: a sealing key that its tool did not make is asked for by name.
        const missing = await keys.getSealer({ token: module.tokenLabel, object: 'no-such-sealing-key' });
        await assert.rejects(missing.seal(secret, 'x'), /C_GenerateKey is not supported by this module\): make it with the token's own tool .*tpm2_ptool addkey --label hallmark-tpm --key-label no-such-sealing-key --algorithm aes256/);
      }
    });

    if (expected.ready.some((k) => k.startsWith('rsa-'))) {
      test('an RSA key made to decrypt (a SCEP RA) decrypts on the token, PKCS#1 v1.5 and OAEP', async () => {
        const uri = { token: module.tokenLabel, object: 'ks-decrypt' };
        const signer = await keys.createKey(uri, 'rsa-3072', { decrypt: true });
        const publicKey = createPublicKey({ key: Buffer.from(signer.spki), format: 'der', type: 'spki' });
        const message = Buffer.from('a content-encryption key');
        assert.deepEqual(Buffer.from(await keys.decrypt(uri, publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, message), 'rsa-pkcs1')), message);
        assert.deepEqual(Buffer.from(await keys.decrypt(uri, publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, message), 'rsa-oaep-sha1')), message);
        // A signing-only key does not decrypt.
        await keys.createKey({ token: module.tokenLabel, object: 'ks-sign-only' }, 'rsa-3072');
        await assert.rejects(keys.decrypt({ token: module.tokenLabel, object: 'ks-sign-only' }, publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, message), 'rsa-pkcs1'));
      });
    }

    test('end to end: init refuses key types the token lacks, then init → serve → issue → OCSP → revoke → CRL → CA rollover', async () => {
      const unusable = Object.keys(expected.unusable) as CaKeyType[];
      if (unusable.length) {
        const refused = await hallmark(cliEnv({ HALLMARK_CONFIG: configWith('init-wrong', [unusable[0]!, unusable[0]!]), HALLMARK_HOME: path.join(dir, 'refused') }), 'init');
        assert.equal(refused.code, 1);
        assert.match(refused.stderr, new RegExp(`cannot hold this CA: .*${unusable[0]}`));
        assert.match(refused.stderr, expected.unusable[unusable[0]!]!);
        assert.match(refused.stderr, /It can make /);
      }
      const env = cliEnv({ HALLMARK_CONFIG: configWith('e2e', expected.hierarchy) });
      const init = await hallmarkJson(env, 'init');
      assert.deepEqual(init.cas.map((c: { name: string }) => c.name), ['root', 'issuing']);
      const files = path.join(dir, 'e2e-files');
      fs.mkdirSync(files);
      const rootFile = path.join(files, 'root.pem');
      const issuingFile = path.join(files, 'issuing.pem');
      fs.writeFileSync(rootFile, await mustRun('node', [path.join(process.cwd(), 'bin', 'hallmark.js'), 'ca', 'export', 'root'], { env }));
      fs.writeFileSync(issuingFile, await mustRun('node', [path.join(process.cwd(), 'bin', 'hallmark.js'), 'ca', 'export', 'issuing'], { env }));
      assert.match(await mustRun('openssl', ['x509', '-in', rootFile, '-noout', '-text']), expected.hierarchy[0].startsWith('rsa') ? /Public-Key: \(4096 bit\)|Public-Key: \(3072 bit\)/ : /NIST CURVE|ASN1 OID: secp384r1/);

      let server: RunningServer | undefined;
      try {
        server = await startServer(env);
        const { csrFile } = await opensslCsr(files, { subject: `/CN=${name}-device` });
        const issued = await hallmarkJson(env, 'cert', 'issue', '--csr', csrFile, '--profile', 'device', '--device', `${name}-device`);
        const certFile = path.join(files, 'device.pem');
        fs.writeFileSync(certFile, issued.certificate);
        assert.match(await mustRun('openssl', ['verify', '-CAfile', rootFile, '-untrusted', issuingFile, certFile]), /OK/);
        const ocsp = (status: RegExp) =>
          run('openssl', ['ocsp', '-issuer', issuingFile, '-cert', certFile, '-url', `http://127.0.0.1:${server!.http}/ocsp`, '-CAfile', rootFile, '-verify_other', issuingFile]).then((r) => {
            assert.match(r.stdout, status, r.stdout + r.stderr);
            assert.match(r.stderr, /Response verify OK/);
          });
        await ocsp(/: good/);
        // The time-stamping authority's key is a service key of the token's kind (RSA-3072 where it has no EC).
        const data = path.join(files, 'data.txt');
        fs.writeFileSync(data, `stamped on ${name}`);
        await mustRun('openssl', ['ts', '-query', '-data', data, '-sha256', '-cert', '-out', `${data}.tsq`]);
        await mustRun('curl', ['-sSf', '-o', `${data}.tsr`, '-H', 'Content-Type: application/timestamp-query', '--data-binary', `@${data}.tsq`, `http://127.0.0.1:${server.http}/tsa`]);
        assert.match(await mustRun('openssl', ['ts', '-verify', '-data', data, '-in', `${data}.tsr`, '-CAfile', rootFile, '-untrusted', issuingFile]), /Verification: OK/);
        await hallmarkJson(env, 'cert', 'revoke', issued.serial, '--reason', 'keyCompromise');
        // The responder answers from a cache it refreshes by polling: wait for it to see the revocation.
        for (const until = Date.now() + 30_000; ; ) {
          const r = await run('openssl', ['ocsp', '-issuer', issuingFile, '-cert', certFile, '-url', `http://127.0.0.1:${server.http}/ocsp`, '-CAfile', rootFile]);
          if (/: revoked/.test(r.stdout)) break;
          if (Date.now() > until) assert.fail(`OCSP never said revoked: ${r.stdout}${r.stderr}`);
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
        await ocsp(/: revoked/);
        const crlFile = path.join(files, 'issuing.crl');
        const chainFile = path.join(files, 'chain.pem');
        fs.writeFileSync(chainFile, fs.readFileSync(rootFile, 'utf8') + fs.readFileSync(issuingFile, 'utf8'));
        // The CRL follows a revocation within its coalescing window: fetch until it lists the serial.
        for (const until = Date.now() + 30_000; ; ) {
          await mustRun('curl', ['-sSf', '-o', crlFile, `http://127.0.0.1:${server.http}/crl/issuing.crl`]);
          const crl = await run('openssl', ['crl', '-inform', 'DER', '-in', crlFile, '-CAfile', chainFile, '-noout', '-text']);
          assert.match(crl.stderr + crl.stdout, /verify OK/);
          if (new RegExp(`Serial Number: ${issued.serial}`, 'i').test(crl.stdout)) break;
          if (Date.now() > until) assert.fail(`the CRL never listed ${issued.serial}: ${crl.stdout}`);
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      } finally {
        await server?.stop();
      }
      // A new generation of the issuing CA: another key on the token, certified by the root.
      const rolled = await hallmark(env, 'ca', 'rollover', 'issuing');
      assert.equal(rolled.code, 0, rolled.stderr);
      const listed = await hallmarkJson(env, 'ca', 'list');
      assert.equal(listed.filter((c: { name: string; family?: string }) => (c.family ?? c.name).startsWith('issuing')).length, 2, JSON.stringify(listed));
      assert.equal((await hallmark(env, 'audit', 'verify')).code, 0);
    });
  });
}
