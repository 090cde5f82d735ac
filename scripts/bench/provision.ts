/**
 * Devices provisioned per second through POST /api/v1/factory/provision/batch (CSR mode) with 1, 4
 * and 16 concurrent stations, beside the raw PKCS#11 signing rate measured in the same run.
 * Last line: `provision-16/raw-sign: <ratio>`.
 *
 *   npm run build && node dist/scripts/bench/provision.js [--devices 2000] [--batch 100]
 */
import { sql } from '../../src/store/handle.js';
import { httpsPost } from './https-post.js';
import { parseArgs } from 'node:util';
import { webcrypto } from 'node:crypto';
import { startHallmark } from '../../src/app/server.js';
import { addStation } from '../../src/factory/stations.js';
import { x509 } from '../../src/x509/crypto-provider.js';
import { toPem } from '../../src/x509/pem.js';
import { benchCa, fmt, rawSignRate, runBench, table } from './setup.js';

const { values } = parseArgs({ options: { devices: { type: 'string', default: '2000' }, batch: { type: 'string', default: '100' } } });
const DEVICES = Number(values.devices);
const BATCH = Number(values.batch);
const log = (line: string) => process.stderr.write(`${line}\n`);
const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

async function main() {
  const ca = await benchCa();
  const running = await startHallmark(ca.ctx, { host: '127.0.0.1', httpsPort: 0, httpPort: 0, log: () => {} });
  try {
    const rootPem = toPem(running.issue.issuers.get('root').certificate, 'CERTIFICATE');
    log('measuring the raw PKCS#11 signing rate…');
    const raw = await rawSignRate(running.issue.issuers.get('issuing').signer);
    // Device keys and CSRs are made before the clock starts: the factory's devices make their own.
    log(`making ${DEVICES} device CSRs…`);
    const rows: (string | number)[][] = [['stations', 'devices', 'seconds', 'devices/s', 'ratio to raw sign']];
    let last = 0;
    let run = 0;
    for (const stations of [1, 4, 16]) {
      run++;
      const creds = [];
      for (let s = 0; s < stations; s++) {
        creds.push(await addStation({ store: ca.ctx.store, audit: ca.ctx.audit, issue: running.issue }, { name: `bench-${run}-${s}`, line: `line-${run}`, profiles: ['device'], quotaPerHour: 1_000_000, actor: 'bench', dir: `${ca.home}/stations` }));
      }
      const items = [];
      for (let i = 0; i < DEVICES; i++) {
        const serial = `B${run}-${i}`;
        // A key for each device, as in a factory: one public key is bound to one identity.
        const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
        const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${serial}`, keys: keys as never, signingAlgorithm: alg });
        items.push({ deviceSerial: serial, model: 'bench', lot: `lot-${run}`, firmwareVersion: '1', csr: csr.toString('pem') });
      }
      log(`${stations} station(s), ${DEVICES} devices in batches of ${BATCH}…`);
      const batches: (typeof items)[] = [];
      for (let i = 0; i < items.length; i += BATCH) batches.push(items.slice(i, i + BATCH));
      let next = 0;
      const started = performance.now();
      await Promise.all(
        creds.map(async (station) => {
          for (let b = next++; b < batches.length; b = next++) {
            const r = await httpsPost({ port: running.https, path: '/api/v1/factory/provision/batch', ca: rootPem, headers: { authorization: `Bearer ${station.apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ devices: batches[b] }) });
            if (r.status !== 200 || JSON.parse(r.body).results.some((x: { error?: unknown }) => x.error)) throw new Error(`batch failed: ${r.body.slice(0, 300)}`);
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      last = DEVICES / seconds / raw;
      rows.push([stations, DEVICES, fmt(seconds, 2), fmt(DEVICES / seconds), fmt(last, 3)]);
    }
    const distinct = Number((await sql(ca.ctx.store)('certificates').where({ profile: 'device' }).countDistinct({ n: 'serial' }))[0]!.n);
    console.log(table(rows));
    console.log(`raw PKCS#11 ECDSA P-256 signatures/s: ${fmt(raw)}; device certificates recorded: ${distinct}`);
    console.log(`provision-16/raw-sign: ${last.toFixed(3)}`);
  } finally {
    await running.close();
    await ca.cleanup();
  }
}

runBench(main);
