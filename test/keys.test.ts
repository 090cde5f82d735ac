import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify as verifySignature } from 'node:crypto';
import * as graphene from 'graphene-pk11';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { readEnvironment } from '../src/config/env.js';
import { createPkcs11KeyStore } from '../src/keys/pkcs11/store.js';
import { createSpeedGauge, IN_LINE_LIMIT_US, RETRY_AFTER_MS } from '../src/keys/pkcs11/speed-gauge.js';
import type { KeyStore, Signer } from '../src/keys/key-store.js';
import { formatKeyUri, parseKeyUri } from '../src/keys/key-uri.js';
import { RECHECK_MS } from '../src/keys/pkcs11/working-copies.js';
import { mustRun } from './helpers/run.js';
import { ROOT } from './helpers/paths.js';
import type { CaKeyType } from '../src/x509/key-types.js';

const TOKEN = 'hallmark';
let home: TestHome;
let store: KeyStore;
let modulePath: string;

before(async () => {
  home = await makeTestHome([TOKEN]);
  process.env.SOFTHSM2_CONF = home.env.SOFTHSM2_CONF;
  modulePath = readEnvironment(home.env).pkcs11Module;
  store = createPkcs11KeyStore({ modulePath, tokenLabel: TOKEN, pin: home.pin, sessions: 4 });
});
after(async () => {
  await store?.close();
  home?.cleanup();
});

/** Our own view of the token, as a second PKCS#11 user in this process would see it. */
function tokenSlot(): graphene.Slot {
  const mod = graphene.Module.load(modulePath, 'test');
  const slots = mod.getSlots(true);
  for (let i = 0; i < slots.length; i++) if (slots.items(i).getToken().label.trim() === TOKEN) return slots.items(i);
  throw new Error('token not found');
}

const verifies = (spki: Uint8Array, data: Buffer, signature: Uint8Array, hash: string) =>
  verifySignature(hash, data, createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }), signature);

describe('PKCS#11 key URIs (RFC 7512)', () => {
  test('format and parse round-trip, with percent-encoded id and label', () => {
    const uri = { token: 'hall mark', object: 'ca;root', id: Uint8Array.of(0xa1, 0x00, 0xff) };
    const text = formatKeyUri(uri);
    assert.equal(text, 'pkcs11:token=hall%20mark;object=ca%3broot;id=%a1%00%ff');
    assert.deepEqual(parseKeyUri(text), uri);
  });
  test('refuses URIs without token or object, or with bad escapes', () => {
    assert.throws(() => parseKeyUri('pkcs11:object=x'), /token= and object=/);
    assert.throws(() => parseKeyUri('pkcs11:token=t;object=%zz'), /percent-encoding/);
    assert.throws(() => parseKeyUri('file:///x'), /not a PKCS#11 URI/);
  });
});

describe('PKCS#11 key store on SoftHSM', () => {
  const types: [CaKeyType, string][] = [
    ['ec-p256', 'sha256'],
    ['ec-p384', 'sha384'],
    ['rsa-3072', 'sha256'],
  ];
  for (const [keyType, hash] of types) {
    test(`${keyType}: generated on the token as sensitive and non-extractable; signs verifiably`, async () => {
      const uri = { token: TOKEN, object: `test-${keyType}`, id: Uint8Array.of(1, 2, 3) };
      const signer = await store.createKey(uri, keyType);
      assert.equal(signer.keyType, keyType);
      const protection = await store.describeProtection(uri);
      assert.deepEqual(protection, { token: true, private: true, sensitive: true, extractable: false, alwaysSensitive: true, neverExtractable: true });
      const data = Buffer.from(`to be signed by ${keyType}`);
      const signature = await signer.sign(data);
      assert.ok(verifies(signer.spki, data, signature, hash), 'signature verifies with the public key');
      assert.ok(!verifies(signer.spki, Buffer.from('other data'), signature, hash), 'and not for other data');
      const again = await store.getSigner(uri);
      assert.deepEqual(again.spki, signer.spki, 'the key is found again by its URI');
    });
  }

  test('refuses to create a key whose name is taken', async () => {
    const uri = { token: TOKEN, object: 'test-dup' };
    await store.createKey(uri, 'ec-p256');
    await assert.rejects(store.createKey(uri, 'ec-p256'), /already exists/);
  });

  test('200 concurrent signatures over a pool of 4 sessions all verify', async () => {
    const uri = { token: TOKEN, object: 'test-concurrent' };
    const signer = await store.createKey(uri, 'ec-p256');
    const inputs = Array.from({ length: 200 }, (_, i) => Buffer.from(`message ${i}`));
    const signatures = await Promise.all(inputs.map((d) => signer.sign(d)));
    signatures.forEach((s, i) => assert.ok(verifies(signer.spki, inputs[i]!, s, 'sha256'), `signature ${i}`));
  });

  for (const signingThreads of [1, 3]) {
    test(`a batch split over ${signingThreads} signing thread(s) comes back whole and in order`, async () => {
      const threaded = createPkcs11KeyStore({ modulePath, tokenLabel: TOKEN, pin: home.pin, signingThreads });
      try {
        const uri = { token: TOKEN, object: `test-threads-${signingThreads}` };
        const signer = await threaded.createKey(uri, 'ec-p256');
        const inputs = Array.from({ length: 301 }, (_, i) => Buffer.from(`to be signed ${i}`));
        const signatures = await signer.signMany(inputs);
        assert.equal(signatures.length, inputs.length);
        signatures.forEach((s, i) => assert.ok(verifies(signer.spki, inputs[i]!, s, 'sha256'), `signature ${i} is over input ${i}`));
      } finally {
        await threaded.close();
      }
    });
  }

  test('batches of one to three are signed on the calling thread, and verify (EC and RSA)', async () => {
    for (const type of ['ec-p256', 'rsa-3072'] as const) {
      const signer = await store.createKey({ token: TOKEN, object: `test-in-line-${type}` }, type);
      const { hash } = signer.algorithm;
      for (const size of [1, 2, 3]) {
        const inputs = Array.from({ length: size }, (_, i) => Buffer.from(`in line ${type} ${size} ${i}`));
        const signatures = await signer.signMany(inputs);
        signatures.forEach((s, i) => assert.ok(verifies(signer.spki, inputs[i]!, s, hash), `${type}: signature ${i} of ${size} is over its input`));
      }
    }
  });

  test('a token found slow is left to the signing threads, and tried in line again a minute later', () => {
    let now = 0;
    const gauge = createSpeedGauge(() => now);
    assert.equal(gauge.fast(), true, 'the first in-line batch measures');
    gauge.took(60);
    for (let i = 0; i < 10; i++) gauge.took(IN_LINE_LIMIT_US * 20); // a busy machine: preempted while waiting
    assert.equal(gauge.fast(), true, 'one fast batch among the recent ones: the token is fast');
    for (let i = 0; i < 16; i++) gauge.took(IN_LINE_LIMIT_US * 5); // a network HSM: every batch slow
    assert.equal(gauge.fast(), false);
    now += RETRY_AFTER_MS - 1;
    assert.equal(gauge.fast(), false);
    now += 1;
    assert.equal(gauge.fast(), true, 'tried again after a minute');
    gauge.took(60);
    assert.equal(gauge.fast(), true, 'fast again once a signature is');
  });

  test('a lost session is re-established on the next operation', async () => {
    const uri = { token: TOKEN, object: 'test-recover' };
    const signer = await store.createKey(uri, 'ec-p256');
    await signer.sign(Buffer.from('warm up'));
    tokenSlot().closeAll(); // every session of this process is gone, including the login
    const data = Buffer.from('after the sessions were closed');
    assert.ok(verifies(signer.spki, data, await signer.sign(data), 'sha256'));
  });

  test('a module that was finalized under us is initialised again', async () => {
    const uri = { token: TOKEN, object: 'test-reinit' };
    const signer = await store.createKey(uri, 'ec-p256');
    graphene.Module.load(modulePath, 'test').finalize();
    const data = Buffer.from('after C_Finalize');
    assert.ok(verifies(signer.spki, data, await signer.sign(data), 'sha256'));
  });

  /** Destroys the token's objects labelled `label` from a process of its own (as `hallmark signer retire` would). */
  async function destroyElsewhere(label: string): Promise<number> {
    const script = `const pkcs11js = require('pkcs11js');
      const p = new pkcs11js.PKCS11(); p.load(process.env.MODULE); p.C_Initialize();
      try {
        const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trim() === process.env.TOKEN);
        const s = p.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
        p.C_Login(s, pkcs11js.CKU_USER, process.env.PIN);
        p.C_FindObjectsInit(s, [{ type: pkcs11js.CKA_LABEL, value: process.env.LABEL }]);
        const found = p.C_FindObjects(s, 10);
        p.C_FindObjectsFinal(s);
        for (const o of found) p.C_DestroyObject(s, o);
        console.log(found.length);
      } finally { p.C_Finalize(); }`;
    const out = await mustRun(process.execPath, ['-e', script], { cwd: ROOT, env: { ...process.env, SOFTHSM2_CONF: home.env.SOFTHSM2_CONF, MODULE: modulePath, TOKEN, PIN: home.pin, LABEL: label }, timeoutMs: 60_000 });
    return Number(out.trim());
  }

  /** Whether signing on the main thread (one signature) and on a signing thread (a batch of 8) is refused now. */
  async function bothRefused(signer: Signer): Promise<boolean> {
    const refused = (p: Promise<unknown>) => p.then(() => false, (e: Error) => /no private key/.test(e.message) || Promise.reject(e));
    const one = await refused(signer.sign(Buffer.from('one')));
    const batch = await refused(signer.signMany(Array.from({ length: 8 }, (_, i) => Buffer.from(`batch ${i}`))));
    return one && batch;
  }

  test('signing goes through working copies: session objects, sensitive and non-extractable, one per thread; the stored key is described', async () => {
    const threaded = createPkcs11KeyStore({ modulePath, tokenLabel: TOKEN, pin: home.pin, signingThreads: 1 });
    try {
      const uri = { token: TOKEN, object: 'test-copies' };
      const signer = await threaded.createKey(uri, 'ec-p256');
      const data = Buffer.from('through a copy');
      assert.ok(verifies(signer.spki, data, await signer.sign(data), 'sha256'));
      const batch = Array.from({ length: 8 }, (_, i) => Buffer.from(`batch ${i}`));
      (await signer.signMany(batch)).forEach((s, i) => assert.ok(verifies(signer.spki, batch[i]!, s, 'sha256')));
      const session = tokenSlot().open(graphene.SessionFlag.SERIAL_SESSION);
      try {
        const copies = session.find({ class: graphene.ObjectClass.PRIVATE_KEY, label: uri.object, token: false });
        assert.equal(copies.length, 2, 'one made on the main thread, one on the signing thread');
        for (let i = 0; i < copies.length; i++) {
          assert.deepEqual(copies.items(i).getAttribute({ token: null, sensitive: null, extractable: null }), { token: false, sensitive: true, extractable: false });
        }
        assert.equal(session.find({ class: graphene.ObjectClass.PRIVATE_KEY, label: uri.object, token: true }).length, 1, 'the stored key, once');
      } finally {
        session.close();
      }
      assert.equal((await threaded.describeProtection(uri)).token, true, 'the stored key is what is described');
    } finally {
      await threaded.close();
    }
  });

  test('a key deleted through the key store stops signing at once, on the main thread and the signing threads', async () => {
    const threaded = createPkcs11KeyStore({ modulePath, tokenLabel: TOKEN, pin: home.pin, signingThreads: 1 });
    try {
      const uri = { token: TOKEN, object: 'test-deleted-here' };
      const signer = await threaded.createKey(uri, 'ec-p256');
      assert.equal(await bothRefused(signer), false, 'it signs before');
      await threaded.deleteKey(uri);
      assert.equal(await bothRefused(signer), true, 'no signature after the deletion, not even from a copy checked a moment ago');
    } finally {
      await threaded.close();
    }
  });

  test(`a key destroyed by another process stops signing here within about ${RECHECK_MS} ms, on every thread`, async () => {
    const threaded = createPkcs11KeyStore({ modulePath, tokenLabel: TOKEN, pin: home.pin, signingThreads: 1 });
    try {
      const label = 'test-destroyed-elsewhere';
      const signer = await threaded.createKey({ token: TOKEN, object: label }, 'ec-p256');
      assert.equal(await bothRefused(signer), false, 'it signs before');
      assert.equal(await destroyElsewhere(label), 2, "the other process sees the stored pair, not this process's copies");
      const destroyed = performance.now();
      while (!(await bothRefused(signer))) {
        assert.ok(performance.now() - destroyed < RECHECK_MS + 5_000, 'still signing long after the key was destroyed');
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await threaded.close();
    }
  });

  test('an unknown token label names the fix', () => {
    assert.throws(() => createPkcs11KeyStore({ modulePath, tokenLabel: 'no-such-token', pin: home.pin }), /no token labelled "no-such-token".*dev-token\.sh/);
  });
});
