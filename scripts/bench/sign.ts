/**
 * Firmware signatures per second through the REST API (docs/firmware-signing.md), against the raw
 * PKCS#11 signing rate of the same signer key measured in the same run (before and after; the higher
 * is used). Each request signs a distinct digest for a product of its own (no rollback check can refuse
 * it), over keep-alive HTTPS with an API key scoped for signing; every answer is checked (status,
 * digest, the signature parsed) and a sample is verified by openssl (cms -verify, dgst -verify).
 * Last line: `sign/raw-sign: <the lower of the two formats' ratios>`.
 *
 *   npm run bench:sign -- [--requests 2000] [--concurrency 16]
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { startHallmark } from '../../src/app/server.js';
import { createApiKey } from '../../src/auth/api-keys.js';
import { createSigner, loadSigner } from '../../src/signing/signers.js';
import { toPem } from '../../src/x509/pem.js';
import { benchCa, fmt, rawSignRate, runBench, table } from './setup.js';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '2000' }, concurrency: { type: 'string', default: '16' } } });
const REQUESTS = Number(values.requests);
const CONCURRENCY = Number(values.concurrency);
const log = (line: string) => process.stderr.write(`${line}\n`);

async function main() {
  const ca = await benchCa();
  const running = await startHallmark(ca.ctx, { host: '127.0.0.1', httpsPort: 0, httpPort: 0, log: () => {} });
  try {
    const deps = { store: ca.ctx.store, audit: ca.ctx.audit, keys: ca.ctx.keys!, issue: running.issue, tokenLabel: 'bench', tsa: ca.ctx.config.tsa };
    await createSigner(deps, { name: 'bench-fw', requester: { kind: 'cli' }, actor: 'bench' });
    const signer = await loadSigner(deps, 'bench-fw');
    const apiKey = (await createApiKey(ca.ctx.store, { role: 'admin', scopes: ['firmware.sign'], createdBy: 'bench', now: new Date() })).apiKey;
    const rootPem = toPem(running.issue.issuers.get('root').certificate, 'CERTIFICATE');
    const agent = new https.Agent({ keepAlive: true, maxSockets: CONCURRENCY, ca: rootPem, servername: 'localhost' });
    const post = (body: object) =>
      new Promise<{ status: number; json: any }>((resolve, reject) => {
        const text = JSON.stringify(body);
        const req = https.request(
          { host: '127.0.0.1', port: running.https, path: '/api/v1/signers/bench-fw/signatures', method: 'POST', agent, headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
          },
        );
        req.on('error', reject);
        req.end(text);
      });

    const rawBefore = await rawSignRate(signer.key, 3);
    const results: { format: string; perSecond: number; p50: number; p99: number }[] = [];
    const samples: { format: string; image: Buffer; signature: Buffer }[] = [];
    for (const format of ['cms', 'raw'] as const) {
      // Warm-up: connections, the first signatures.
      await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => post({ digestAlgorithm: 'sha256', digest: randomBytes(32).toString('hex'), product: `warm-${format}-${i}`, version: '1', format })));
      let next = 0;
      const latencies: number[] = [];
      const started = performance.now();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < REQUESTS) {
            const i = next++;
            const image = randomBytes(64);
            const digest = createHash('sha256').update(image).digest('hex');
            const at = performance.now();
            const r = await post({ digestAlgorithm: 'sha256', digest, product: `bench-${format}-${i}`, version: '1.0.0', format });
            latencies.push(performance.now() - at);
            if (r.status !== 201 || r.json.digest !== digest || !r.json.signature) throw new Error(`request ${i}: ${r.status} ${JSON.stringify(r.json).slice(0, 200)}`);
            if (i % Math.max(1, Math.floor(REQUESTS / 10)) === 0) samples.push({ format, image, signature: Buffer.from(r.json.signature, 'base64') });
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      latencies.sort((a, b) => a - b);
      results.push({ format, perSecond: REQUESTS / seconds, p50: latencies[Math.floor(latencies.length / 2)]!, p99: latencies[Math.floor(latencies.length * 0.99)]! });
      log(`${format}: ${fmt(REQUESTS / seconds)} signatures/s`);
    }
    const rawAfter = await rawSignRate(signer.key, 3);
    const raw = Math.max(rawBefore, rawAfter);

    // A sample through openssl, as a device's build would check them.
    const dir = fs.mkdtempSync(path.join(ca.home, 'sign-'));
    fs.writeFileSync(path.join(dir, 'root.pem'), rootPem);
    fs.writeFileSync(path.join(dir, 'signer.pub'), execFileSync('openssl', ['x509', '-pubkey', '-noout'], { input: toPem(signer.chain[0]!, 'CERTIFICATE') }));
    for (const [i, s] of samples.entries()) {
      fs.writeFileSync(path.join(dir, `${i}.bin`), s.image);
      fs.writeFileSync(path.join(dir, `${i}.sig`), s.signature);
      const args =
        s.format === 'cms'
          ? ['cms', '-verify', '-binary', '-inform', 'DER', '-in', path.join(dir, `${i}.sig`), '-content', path.join(dir, `${i}.bin`), '-CAfile', path.join(dir, 'root.pem'), '-purpose', 'any', '-out', '/dev/null']
          : ['dgst', '-sha256', '-verify', path.join(dir, 'signer.pub'), '-signature', path.join(dir, `${i}.sig`), path.join(dir, `${i}.bin`)];
      execFileSync('openssl', args, { stdio: 'ignore' });
    }
    log(`openssl verified ${samples.length} sampled signatures`);

    console.log(
      table([
        ['format', 'signatures', 'signatures/s', 'p50 ms', 'p99 ms', 'raw sign/s (same key)', 'ratio'],
        ...results.map((r) => [r.format, fmt(REQUESTS), fmt(r.perSecond), fmt(r.p50, 1), fmt(r.p99, 1), fmt(raw), (r.perSecond / raw).toFixed(3)]),
      ]),
    );
    console.log(`sign/raw-sign: ${Math.min(...results.map((r) => r.perSecond / raw)).toFixed(3)}`);
    agent.destroy();
  } finally {
    await running.close();
    await ca.cleanup();
  }
}

runBench(main);
