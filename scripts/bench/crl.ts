/**
 * CRL generation time and peak memory for 10,000, 100,000 and 1,000,000 revoked entries, beside
 * `openssl ca -gencrl` over an index of the same serials, in one run; the raw PKCS#11 signing rate of
 * the token is printed for scale. Last line: `crl-1m/openssl: <Hallmark time ÷ openssl time>`.
 *
 *   npm run build && node dist/scripts/bench/crl.js [--sizes 10000,100000,1000000]
 */
import { sql } from '../../src/store/handle.js';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { benchCa, fmt, rawSignRate, runBench, table } from './setup.js';
import { issuingDeps } from '../../src/app/context.js';

const { values } = parseArgs({ options: { sizes: { type: 'string', default: '10000,100000,1000000' } } });
const SIZES = values.sizes!.split(',').map(Number);
const log = (line: string) => process.stderr.write(`${line}\n`);

const run = (file: string, args: string[], env: NodeJS.ProcessEnv) =>
  new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
    execFile(file, args, { env, maxBuffer: 64 << 20 }, (e, stdout, stderr) => (e ? reject(new Error(`${file} failed: ${stderr}`)) : resolve({ stdout, stderr }))),
  );

async function main() {
  const ca = await benchCa();
  try {
    const issue = await issuingDeps(ca.ctx);
    log('measuring the raw PKCS#11 signing rate…');
    const raw = await rawSignRate(issue.issuers.get('issuing').signer);

    // The reference CA for openssl: a software key, an index with the same serials.
    const ref = path.join(ca.home, 'openssl-ca');
    fs.mkdirSync(ref);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(ref, 'ca.key'), '-out', path.join(ref, 'ca.pem'), '-subj', '/CN=Reference CA', '-days', '30'], { stdio: 'ignore' });
    fs.writeFileSync(path.join(ref, 'crlnumber'), '01\n');
    fs.writeFileSync(
      path.join(ref, 'openssl.cnf'),
      `[ca]\ndefault_ca = ref\n[ref]\ndir = ${ref}\ndatabase = ${ref}/index.txt\ncrlnumber = ${ref}/crlnumber\ncertificate = ${ref}/ca.pem\nprivate_key = ${ref}/ca.key\ndefault_md = sha256\ndefault_crl_hours = 24\ncrl_extensions = crl_ext\n[crl_ext]\nauthorityKeyIdentifier = keyid:always\n`,
    );
    const index = fs.openSync(path.join(ref, 'index.txt'), 'w');

    const rows: (string | number)[][] = [['revoked entries', 'Hallmark s', 'peak RSS MiB (base)', 'CRL MiB', 'openssl ca -gencrl s', 'peak RSS MiB', 'time ratio']];
    let inserted = 0;
    let lastRatio = NaN;
    const now = Date.now();
    for (const size of SIZES) {
      log(`inserting revoked certificates up to ${fmt(size)}…`);
      const batch: Record<string, unknown>[] = [];
      const lines: string[] = [];
      const flush = async () => {
        if (!batch.length) return;
        await sql(ca.ctx.store).batchInsert('certificates', batch.splice(0), 400);
        fs.writeSync(index, lines.splice(0).join(''));
      };
      for (; inserted < size; inserted++) {
        const serial = (0x4000000000000000n + BigInt(inserted) * 7919n).toString(16).padStart(32, '0');
        batch.push({
          serial,
          issuer: 'issuing',
          profile: 'device',
          identity: `bench-${inserted}`,
          subject: `CN=bench-${inserted}`,
          status: 'revoked',
          not_before: now - 86_400_000,
          not_after: now + 365 * 86_400_000,
          key_type: 'ec-p256',
          requested_by: 'bench',
          created_at: now,
          revoked_at: now - (inserted % 86_400) * 1000,
          revocation_reason: inserted % 3 ? 'keyCompromise' : 'superseded',
          status_changed_at: now,
        });
        lines.push(`R\t301231000000Z\t${new Date(now - (inserted % 86_400) * 1000).toISOString().replace(/^\d\d(\d\d)-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d).*$/, '$1$2$3$4$5$6Z')},${inserted % 3 ? 'keyCompromise' : 'superseded'}\t${serial.toUpperCase()}\tunknown\t/CN=bench-${inserted}\n`);
        if (batch.length >= 20_000) await flush();
      }
      await flush();

      log(`Hallmark: CRL of ${fmt(size)} entries…`);
      const worker = path.join(path.dirname(new URL(import.meta.url).pathname), 'crl-worker.js');
      const env = { ...ca.env, BENCH_SCHEMA: ca.env.DATABASE_URL ? `bench_${process.pid}` : '' };
      const hallmark = JSON.parse((await run('node', [worker, 'issuing'], env)).stdout.trim().split('\n').pop()!);
      if (hallmark.entries !== size) throw new Error(`CRL has ${hallmark.entries} entries, expected ${size}`);

      log(`openssl ca -gencrl: ${fmt(size)} entries…`);
      const started = performance.now();
      const timed = await run('/usr/bin/time', ['-f', '%M', 'openssl', 'ca', '-gencrl', '-config', path.join(ref, 'openssl.cnf'), '-out', path.join(ref, 'crl.pem')], process.env);
      const opensslSeconds = (performance.now() - started) / 1000;
      const opensslRss = Number(timed.stderr.trim().split('\n').pop()) / 1024;
      lastRatio = hallmark.ms / 1000 / opensslSeconds;
      rows.push([fmt(size), fmt(hallmark.ms / 1000, 2), `${fmt(hallmark.maxRssMiB)} (${fmt(hallmark.baselineRssMiB)})`, fmt(hallmark.bytes / 1048576, 1), fmt(opensslSeconds, 2), fmt(opensslRss), fmt(lastRatio, 2)]);
    }
    fs.closeSync(index);
    console.log(table(rows));
    console.log(`raw PKCS#11 ECDSA P-256 signatures/s: ${fmt(raw)} (one signature per CRL)`);
    console.log(`crl-${SIZES.at(-1)! >= 1_000_000 ? `${SIZES.at(-1)! / 1_000_000}m` : SIZES.at(-1)}/openssl: ${lastRatio.toFixed(2)}`);
  } finally {
    await ca.cleanup();
  }
}

runBench(main);
