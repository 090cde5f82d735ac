import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { sqliteBackend } from './helpers/backends.js';
import { configCopy, startInProcess, type InProcessHallmark } from './helpers/in-process.js';
import { run } from './helpers/run.js';
import { issueCertificate } from '../src/ca/issue.js';
import { requestForOwnKey } from '../src/x509/csr.js';
import { toPem } from '../src/x509/pem.js';

/**
 * Nonce requests (RFC 8954) cost a signature each: echoed by default, limited per client address
 * (tryLater beyond the limit), or ignored by configuration (the cached answer, no nonce). The client is
 * `openssl ocsp`, which sends a nonce unless told not to and says when the answer has none.
 */

let home: TestHome;
before(async () => {
  home = await makeTestHome(['nonce-echo', 'nonce-ignore', 'nonce-ignore-live']);
});
after(() => home?.cleanup());

async function setUp(hm: InProcessHallmark, dir: string) {
  fs.mkdirSync(dir, { recursive: true });
  const spki = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' }));
  const cert = await issueCertificate(hm.running.issue, { csr: requestForOwnKey(spki), profile: 'device', identity: `nonce-${path.basename(dir)}`, requester: { kind: 'cli' }, actor: 'test' });
  const files = { cert: path.join(dir, 'cert.pem'), issuing: path.join(dir, 'issuing.pem'), chain: path.join(dir, 'chain.pem') };
  fs.writeFileSync(files.cert, cert.certificate);
  fs.writeFileSync(files.issuing, toPem(hm.running.issue.issuers.get('issuing').certificate, 'CERTIFICATE'));
  fs.writeFileSync(files.chain, hm.rootPem + fs.readFileSync(files.issuing, 'utf8'));
  const ask = (extra: string[] = []) => run('openssl', ['ocsp', '-issuer', files.issuing, '-cert', files.cert, '-url', `http://127.0.0.1:${hm.running.http}/ocsp`, '-CAfile', files.chain, '-resp_text', ...extra]);
  return { ask, serial: cert.serial };
}

const producedAt = (text: string) => /Produced At: (.+)/.exec(text)?.[1];

describe('OCSP nonces', () => {
  test('echoed by default, each answer signed for its request; beyond the per-address limit, tryLater; plain requests unaffected', async () => {
    const configFile = configCopy(path.join(home.home, 'config-echo'), (c) => {
      c.revocation = { ...(c.revocation ?? {}), ocsp: { validityMinutes: 60, refreshBeforeMinutes: 10, pollSeconds: 2, noncesPerMinute: 3 } };
    });
    const hm = await startInProcess(home, sqliteBackend(), 'nonce-echo', { configFile });
    try {
      const { ask } = await setUp(hm, path.join(home.home, 'echo'));
      for (let i = 0; i < 3; i++) {
        const r = await ask();
        assert.match(r.stdout, /: good/, r.stdout + r.stderr);
        assert.match(r.stderr, /Response verify OK/);
        assert.doesNotMatch(r.stdout + r.stderr, /WARNING: no nonce/i, 'the nonce is echoed');
        assert.match(r.stdout, /OCSP Nonce/);
      }
      const limited = await ask();
      assert.match(limited.stdout + limited.stderr, /Responder Error: trylater \(3\)/);
      const plain = await ask(['-no_nonce']);
      assert.match(plain.stdout, /: good/, 'a request without a nonce is answered from the cache, not limited');
    } finally {
      await hm.close();
    }
  });

  // Pre-signing on: the answer every nonce gets is the pre-signed one. Off: the live answer, cached under
  // a key without the nonce.
  for (const presign of [true, false]) {
    test(`ignored by configuration: the same ${presign ? 'pre-signed' : 'cached'} answer for every nonce, without one (RFC 8954 §3), and no limit`, async () => {
      const name = presign ? 'nonce-ignore' : 'nonce-ignore-live';
      const configFile = configCopy(path.join(home.home, `config-${name}`), (c) => {
        c.revocation = { ...(c.revocation ?? {}), ocsp: { validityMinutes: 60, refreshBeforeMinutes: 10, pollSeconds: 2, nonces: 'ignore', noncesPerMinute: 1, presign } };
      });
      const hm = await startInProcess(home, sqliteBackend(), name, { configFile });
      try {
        const { ask, serial } = await setUp(hm, path.join(home.home, name));
        // With pre-signing, the answer to hold is the pre-signed one (RFC 5019): until this instance has
        // loaded it, a request is signed live and cached, and the pre-signed answer replaces that one.
        for (const until = Date.now() + 30_000; presign && !hm.running.presigned.answer('issuing', serial); ) {
          assert.ok(Date.now() < until, "the certificate's pre-signed answer is held within 30 s");
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        const first = await ask();
        assert.match(first.stdout, /: good/, first.stdout + first.stderr);
        assert.match(first.stdout + first.stderr, /WARNING: no nonce in response/i);
        const held = producedAt(first.stdout);
        assert.ok(held, first.stdout);
        for (let i = 0; i < 3; i++) {
          // A second apart: an answer signed again would say so in its producedAt.
          await new Promise((resolve) => setTimeout(resolve, 1100));
          const again = await ask();
          assert.match(again.stdout, /: good/);
          assert.match(again.stdout + again.stderr, /WARNING: no nonce in response/i);
          assert.equal(producedAt(again.stdout), held, 'the same answer, whatever the nonce');
        }
      } finally {
        await hm.close();
      }
    });
  }
});
