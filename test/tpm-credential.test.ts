import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mustRun, run } from './helpers/run.js';
import { startSoftTpm, type SoftTpm } from './helpers/swtpm.js';
import { parseTpm2bPublic, tpmName, TPMA_OBJECT } from '../src/attestation/tpm-public.js';
import { makeCredential } from '../src/attestation/make-credential.js';
import { verifyCertify } from '../src/attestation/certify.js';
import { randomBytes } from 'node:crypto';

/**
 * The first pieces of TPM-bound identities (issue: hardware-bound identities), against a software TPM
 * (swtpm) and tpm2-tools, nobody's code here: TPM public areas and Names read as tpm2-tools computes
 * them, and a credential made by Hallmark (TPM2_MakeCredential outside the TPM) that only the TPM holding
 * the EK recovers, and only for the attestation key it names (tpm2_activatecredential).
 */

let dir: string;
let tpm: SoftTpm;
const tools = (tool: string, args: string[]) => mustRun(tool, args, { env: tpm.env, cwd: dir });
/** tpm2-tools without a resource manager leave transient objects loaded: flushed between steps. */
const flush = () => run('tpm2_flushcontext', ['-t'], { env: tpm.env, cwd: dir });

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hallmark-tpm-'));
  tpm = await startSoftTpm(dir);
  await tools('tpm2_createek', ['-c', 'ek.ctx', '-G', 'rsa', '-u', 'ek.pub']);
  await flush();
  await tools('tpm2_createak', ['-C', 'ek.ctx', '-c', 'ak.ctx', '-G', 'ecc', '-g', 'sha256', '-s', 'ecdsa', '-u', 'ak.pub', '-n', 'ak.name']);
  await flush();
});
after(async () => {
  await tpm?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** TPM2_ActivateCredential on the TPM with the EK's policy (PolicySecret of the endorsement hierarchy). */
async function activate(credentialFile: string): Promise<{ ok: boolean; secret: Buffer; output: string }> {
  await flush();
  await tools('tpm2_startauthsession', ['--policy-session', '-S', 'session.ctx']);
  await tools('tpm2_policysecret', ['-S', 'session.ctx', '-c', 'e']);
  const out = path.join(dir, 'activated.bin');
  fs.rmSync(out, { force: true });
  const r = await run('tpm2_activatecredential', ['-c', 'ak.ctx', '-C', 'ek.ctx', '-i', credentialFile, '-o', out, '-P', 'session:session.ctx'], { env: tpm.env, cwd: dir });
  await run('tpm2_flushcontext', ['session.ctx'], { env: tpm.env, cwd: dir });
  await flush();
  return { ok: r.code === 0, secret: fs.existsSync(out) ? fs.readFileSync(out) : Buffer.alloc(0), output: r.stdout + r.stderr };
}

/** The file tpm2_activatecredential reads: magic, version 1, TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET. */
const credentialFile = (name: string, made: { credentialBlob: Buffer; encryptedSecret: Buffer }) => {
  const file = path.join(dir, name);
  fs.writeFileSync(file, Buffer.concat([Buffer.from('badcc0de00000001', 'hex'), made.credentialBlob, made.encryptedSecret]));
  return file;
};

test('public areas and Names as the TPM and tpm2-tools have them; the EK certificate from the manufacturer CA verifies with openssl', async () => {
  const ek = parseTpm2bPublic(fs.readFileSync(path.join(dir, 'ek.pub')));
  const ak = parseTpm2bPublic(fs.readFileSync(path.join(dir, 'ak.pub')));
  assert.equal(ek.type, 'rsa');
  assert.equal(ek.rsa!.keyBits, 2048);
  assert.ok(ek.attributes & TPMA_OBJECT.restricted && ek.attributes & TPMA_OBJECT.decrypt, 'the EK is a restricted decryption key');
  assert.equal(ak.type, 'ecc');
  for (const bit of [TPMA_OBJECT.fixedTPM, TPMA_OBJECT.fixedParent, TPMA_OBJECT.sensitiveDataOrigin, TPMA_OBJECT.sign, TPMA_OBJECT.restricted]) assert.ok(ak.attributes & bit, `AK attribute 0x${bit.toString(16)}`);
  assert.deepEqual(Buffer.from(tpmName(ak)), fs.readFileSync(path.join(dir, 'ak.name')), 'the Name tpm2-tools reports');
  // The RSA EK certificate swtpm_setup wrote to NV (TCG EK index 0x01c00002), and its modulus is the EK's.
  await tools('tpm2_nvread', ['0x1c00002', '-C', 'o', '-o', 'ek-cert.der']);
  const chain = path.join(dir, 'tpm-ca.pem');
  fs.writeFileSync(chain, tpm.caFiles.map((f) => fs.readFileSync(f, 'utf8')).join(''));
  const pem = path.join(dir, 'ek-cert.pem');
  await mustRun('openssl', ['x509', '-inform', 'DER', '-in', path.join(dir, 'ek-cert.der'), '-out', pem]);
  assert.match(await mustRun('openssl', ['verify', '-CAfile', chain, pem]), /OK/);
  const verified = await run('openssl', ['x509', '-in', pem, '-noout', '-modulus']);
  assert.equal(verified.stdout.trim().replace('Modulus=', '').toLowerCase(), Buffer.from(ek.rsa!.modulus).toString('hex'));
});

test('a credential Hallmark makes for the AK is recovered by TPM2_ActivateCredential on this TPM; made for another Name, the TPM refuses it', async () => {
  const ek = parseTpm2bPublic(fs.readFileSync(path.join(dir, 'ek.pub')));
  const ak = parseTpm2bPublic(fs.readFileSync(path.join(dir, 'ak.pub')));
  const secret = Buffer.from('hallmark challenge 0123456789ab');
  const good = await activate(credentialFile('good.cred', makeCredential(ek, tpmName(ak), secret)));
  assert.ok(good.ok, good.output);
  assert.deepEqual(good.secret, secret);

  const otherName = Buffer.from(tpmName(ak));
  otherName[otherName.length - 1]! ^= 0x01;
  const bad = await activate(credentialFile('bad.cred', makeCredential(ek, otherName, secret)));
  assert.equal(bad.ok, false, 'bound to the AK the TPM holds');
  assert.notDeepEqual(bad.secret, secret);
});

test('TPM2_Certify of a device key by the AK verifies (the key\'s Name, the qualifying data, the AK\'s signature); another nonce, another key or a changed attestation does not', async () => {
  await tools('tpm2_createprimary', ['-C', 'o', '-g', 'sha256', '-G', 'ecc', '-c', 'primary.ctx']);
  await flush();
  await tools('tpm2_create', ['-C', 'primary.ctx', '-G', 'ecc', '-u', 'key.pub', '-r', 'key.priv', '-a', 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign']);
  await flush();
  await tools('tpm2_load', ['-C', 'primary.ctx', '-u', 'key.pub', '-r', 'key.priv', '-c', 'key.ctx']);
  await flush();
  // tpm2-tools 5.4 (Debian 12) has no option for TPM2_Certify's qualifyingData and always sends 00ff55aa:
  // that is the "nonce" here; Hallmark's enrollment will hand out its own with a client that can send it.
  const nonce = Buffer.from('00ff55aa', 'hex');
  await tools('tpm2_certify', ['-c', 'key.ctx', '-C', 'ak.ctx', '-g', 'sha256', '-o', 'attest.out', '-s', 'sig.out']);
  await flush();
  const read = (f: string) => new Uint8Array(fs.readFileSync(path.join(dir, f)));
  const ak = parseTpm2bPublic(read('ak.pub'));
  const key = parseTpm2bPublic(read('key.pub'));
  const input = { ak, key, attest: read('attest.out'), signature: read('sig.out'), nonce };
  const info = verifyCertify(input);
  assert.ok(key.attributes & TPMA_OBJECT.fixedTPM && key.attributes & TPMA_OBJECT.sign, 'a signing key that never leaves the TPM');
  assert.ok(info.clock > 0n);
  assert.throws(() => verifyCertify({ ...input, nonce: randomBytes(32) }), /nonce/);
  assert.throws(() => verifyCertify({ ...input, key: ak }), /another key/);
  const changed = Uint8Array.from(input.attest);
  changed[changed.length - 1]! ^= 0x01;
  assert.throws(() => verifyCertify({ ...input, attest: changed }), /does not verify/);
});
