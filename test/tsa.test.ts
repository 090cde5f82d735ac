import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { BACKENDS } from './helpers/backends.js';
import { configCopy, startInProcess, writeChainFiles, type InProcessHallmark } from './helpers/in-process.js';
import { mustRun, run } from './helpers/run.js';
import { sql } from '../src/store/handle.js';
import { toPem } from '../src/x509/pem.js';

/**
 * The time-stamping authority (RFC 3161) at POST /tsa on the plain-HTTP listener, checked with
 * openssl ts (query, reply, verify) and curl: granted stamps verify with the root, the nonce and
 * imprint match, serials are unique and recorded, refusals carry the RFC's failure bits.
 */

let home: TestHome;
before(async () => {
  home = await makeTestHome(['tsa-sqlite', 'tsa-postgres']);
});
after(() => home?.cleanup());

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`time-stamping authority on ${backend.name}`, () => {
    let hm: InProcessHallmark;
    let dir: string;
    let files: ReturnType<typeof writeChainFiles>;
    const data = path.join(home?.home ?? '.', 'unused');
    let dataFile = data;
    const stamp = async (query: string, reply: string, contentType = 'application/timestamp-query') =>
      run('curl', ['-sS', '-o', reply, '-w', '%{http_code} %{content_type}', '-H', `Content-Type: ${contentType}`, '--data-binary', `@${query}`, `http://127.0.0.1:${hm.running.http}/tsa`]);
    const replyText = async (reply: string) => (await run('openssl', ['ts', '-reply', '-in', reply, '-text'])).stdout;

    before(async () => {
      const configFile = configCopy(path.join(home.home, `config-${backend.name}`), (c) => {
        c.tsa = { perMinute: 40 };
      });
      hm = await startInProcess(home, backend, `tsa-${backend.name}`, { configFile });
      dir = fs.mkdtempSync(path.join(home.home, `tsa-${backend.name}-`));
      files = writeChainFiles(hm, dir);
      dataFile = path.join(dir, 'image.bin');
      fs.writeFileSync(dataFile, randomBytes(50_000));
    });
    after(async () => {
      await hm?.close();
      await backend.cleanup();
    });

    test('openssl ts: a granted stamp with the TSA chain (certReq) verifies against the root and the query (nonce, imprint); the TSA certificate has timeStamping only, critical', async () => {
      const query = path.join(dir, 'q.tsq');
      await mustRun('openssl', ['ts', '-query', '-data', dataFile, '-sha256', '-cert', '-out', query]);
      const reply = path.join(dir, 'r.tsr');
      const answered = await stamp(query, reply);
      assert.equal(answered.stdout, '200 application/timestamp-reply', answered.stderr);
      const text = await replyText(reply);
      assert.match(text, /Status: Granted/);
      assert.match(text, new RegExp(`Policy OID: ${hm.ctx.config.tsa.policy.replaceAll('.', '\\.')}`));
      assert.match(text, /Accuracy: 0x01 seconds/);
      const queryNonce = /Nonce: (0x[0-9A-F]+)/.exec((await run('openssl', ['ts', '-query', '-in', query, '-text'])).stdout)![1]!;
      assert.match(text, new RegExp(`Nonce: ${queryNonce}`));
      for (const check of [['-data', dataFile], ['-queryfile', query]]) {
        const verified = await run('openssl', ['ts', '-verify', ...check, '-in', reply, '-CAfile', files.rootFile, '-untrusted', files.issuingFile]);
        assert.match(verified.stdout, /Verification: OK/, verified.stdout + verified.stderr);
      }
      const other = path.join(dir, 'other.bin');
      fs.writeFileSync(other, randomBytes(10));
      const wrong = await run('openssl', ['ts', '-verify', '-data', other, '-in', reply, '-CAfile', files.rootFile, '-untrusted', files.issuingFile]);
      assert.doesNotMatch(wrong.stdout, /Verification: OK/);

      const signer = await sql(hm.ctx.store)('signers').where({ purpose: 'tsa' }).first();
      fs.writeFileSync(path.join(dir, 'tsa.pem'), toPem(new Uint8Array(signer.certificate), 'CERTIFICATE'));
      const ext = await run('openssl', ['x509', '-in', path.join(dir, 'tsa.pem'), '-noout', '-ext', 'extendedKeyUsage,keyUsage']);
      assert.match(ext.stdout, /Extended Key Usage: critical\s+Time Stamping\s*$/m);
    });

    test('without certReq the stamp carries no certificate and verifies with the TSA certificate given; every serial distinct and recorded', async () => {
      const serials = new Set<string>();
      for (let i = 0; i < 8; i++) {
        const query = path.join(dir, `n${i}.tsq`);
        await mustRun('openssl', ['ts', '-query', '-data', dataFile, '-sha384', '-out', query]);
        const reply = path.join(dir, `n${i}.tsr`);
        assert.equal((await stamp(query, reply)).stdout, '200 application/timestamp-reply');
        serials.add(/Serial number: (0x[0-9A-F]+)/.exec(await replyText(reply))![1]!);
        if (i === 0) {
          const token = path.join(dir, 'n0.tst');
          await mustRun('openssl', ['ts', '-reply', '-in', reply, '-token_out', '-out', token]);
          const printed = await run('openssl', ['cms', '-cmsout', '-print', '-inform', 'DER', '-in', token]);
          assert.doesNotMatch(printed.stdout, /certificates:\s*\n\s*d\.certificate/, 'no certificates without certReq');
          const chain = path.join(dir, 'tsa-chain.pem');
          fs.writeFileSync(chain, fs.readFileSync(path.join(dir, 'tsa.pem'), 'utf8') + fs.readFileSync(files.issuingFile, 'utf8'));
          const verified = await run('openssl', ['ts', '-verify', '-queryfile', query, '-in', reply, '-CAfile', files.rootFile, '-untrusted', chain]);
          assert.match(verified.stdout, /Verification: OK/, verified.stdout + verified.stderr);
        }
      }
      assert.equal(serials.size, 8);
      const recorded = await sql(hm.ctx.store)('timestamps').whereIn('serial', [...serials].map((s) => s.slice(2).toLowerCase()));
      assert.equal(recorded.length, 8, 'each one recorded');
      assert.ok(recorded.every((r) => r.hash_algorithm === 'sha384'));
    });

    test('refusals as RFC 3161 says: SHA-1 badAlg, another policy unacceptedPolicy, garbage badDataFormat; a wrong content type 415, GET 405; past the per-address limit 429', async () => {
      const cases: [string[], RegExp][] = [
        [['-sha1'], /unrecognized or unsupported algorithm identifier/i],
        [['-sha256', '-tspolicy', '1.2.3.4'], /the requested TSA policy is not supported/i],
      ];
      for (const [flags, failure] of cases) {
        const query = path.join(dir, 'bad.tsq');
        await mustRun('openssl', ['ts', '-query', '-data', dataFile, ...flags, '-out', query]);
        const reply = path.join(dir, 'bad.tsr');
        assert.equal((await stamp(query, reply)).stdout, '200 application/timestamp-reply');
        const text = await replyText(reply);
        assert.match(text, /Status: Rejected/, text);
        assert.match(text, failure, text);
      }
      const garbage = path.join(dir, 'garbage.tsq');
      fs.writeFileSync(garbage, Buffer.from('30030201ff', 'hex'));
      await stamp(garbage, path.join(dir, 'garbage.tsr'));
      assert.match(await replyText(path.join(dir, 'garbage.tsr')), /the data submitted has the wrong format/i);
      assert.equal((await stamp(garbage, path.join(dir, 'x'), 'application/octet-stream')).stdout.split(' ')[0], '415');
      assert.equal((await fetch(`http://127.0.0.1:${hm.running.http}/tsa`)).status, 405);

      const query = path.join(dir, 'q.tsq');
      const codes: string[] = [];
      for (let i = 0; i < 45; i++) codes.push((await stamp(query, path.join(dir, 'rl.tsr'))).stdout.split(' ')[0]!);
      assert.ok(codes.includes('429'), codes.join(','));
    });
  });
}
