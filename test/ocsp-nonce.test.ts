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
  home = await makeTestHome(['nonce-echo', 'nonce-ignore']);
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
  return (extra: string[] = []) => run('openssl', ['ocsp', '-issuer', files.issuing, '-cert', files.cert, '-url', `http://127.0.0.1:${hm.running.http}/ocsp`, '-CAfile', files.chain, '-resp_text', ...extra]);
}

const producedAt = (text: string) => /Produced At: (.+)/.exec(text)?.[1];

describe('OCSP nonces', () => {
  test('echoed by default, each answer signed for its request; beyond the per-address limit, tryLater; plain requests unaffected', async () => {
    const configFile = configCopy(path.join(home.home, 'config-echo'), (c) => {
      c.revocation = { ...(c.revocation ?? {}), ocsp: { validityMinutes: 60, refreshBeforeMinutes: 10, pollSeconds: 2, noncesPerMinute: 3 } };
    });
    const hm = await startInProcess(home, sqliteBackend(), 'nonce-echo', { configFile });
    try {
      const ask = await setUp(hm, path.join(home.home, 'echo'));
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

  test('ignored by configuration: the same cached answer for every nonce, without one (RFC 8954 §3), and no limit', async () => {
    const configFile = configCopy(path.join(home.home, 'config-ignore'), (c) => {
      c.revocation = { ...(c.revocation ?? {}), ocsp: { validityMinutes: 60, refreshBeforeMinutes: 10, pollSeconds: 2, nonces: 'ignore', noncesPerMinute: 1 } };
    });
    const hm = await startInProcess(home, sqliteBackend(), 'nonce-ignore', { configFile });
    try {
      const ask = await setUp(hm, path.join(home.home, 'ignore'));
      const first = await ask();
      assert.match(first.stdout, /: good/, first.stdout + first.stderr);
      assert.match(first.stdout + first.stderr, /WARNING: no nonce in response/i);
      // The answer the cache holds: the first one, unless the status poll stored its own meanwhile (a
      // loaded machine); found as two answers a second apart that are the same signed answer.
      let cached = producedAt(first.stdout);
      for (let tries = 0; ; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 1100));
        const next = producedAt((await ask()).stdout);
        if (next === cached) break;
        assert.ok(tries < 10, 'the cache settles on one signed answer');
        cached = next;
      }
      for (let i = 0; i < 3; i++) {
        const again = await ask();
        assert.match(again.stdout, /: good/);
        assert.equal(producedAt(again.stdout), cached, 'the cached answer, whatever the nonce');
      }
    } finally {
      await hm.close();
    }
  });
});
