/**
 * Where a live-signed OCSP answer's CPU goes, without HTTP: `answer()` called directly for nonce
 * requests, `--inflight` at a time, for `--seconds`. Run under `node --cpu-prof` to profile.
 *
 *   npm run build && node [--cpu-prof] dist/scripts/bench/ocsp-live-profile.js [--certs 200] [--seconds 5]
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { issuingDeps } from '../../src/app/context.js';
import { issueCertificate } from '../../src/ca/issue.js';
import { ensureResponders } from '../../src/ca/ocsp-responders.js';
import { ocspResponseSigners } from '../../src/ca/ocsp-signing.js';
import { createOcspResponder } from '../../src/protocols/ocsp/responder.js';
import { requestForOwnKey } from '../../src/x509/csr.js';
import { benchCa, runBench } from './setup.js';
import { ocspRequest } from './ocsp-request.js';

const { values } = parseArgs({ options: { certs: { type: 'string', default: '200' }, seconds: { type: 'string', default: '5' }, inflight: { type: 'string', default: '16' } } });

async function main() {
  const ca = await benchCa();
  try {
    const issue = await issuingDeps(ca.ctx);
    const responders = await ensureResponders({ store: ca.ctx.store, keys: ca.ctx.keys!, issue, tokenLabel: 'bench' }, () => {});
    const issuing = issue.issuers.get('issuing');
    const serials: string[] = [];
    for (let i = 0; i < Number(values.certs); i++) {
      const spki = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' }));
      serials.push((await issueCertificate(issue, { csr: requestForOwnKey(spki), profile: 'device', identity: `p-${i}`, requester: { kind: 'cli' }, actor: 'bench' })).serial);
    }
    const config = { ...ca.ctx.config.revocation.ocsp, noncesPerMinute: 0 };
    const answer = createOcspResponder({ issuers: issue.issuers, certificates: ca.ctx.certificates, signerFor: ocspResponseSigners(() => responders), clock: ca.ctx.clock, config, log: console.error });
    const bodies = serials.map((s) => ocspRequest(issuing.certificate, s, randomBytes(32)));
    let count = 0;
    const cpu = process.cpuUsage();
    const started = performance.now();
    const deadline = Date.now() + Number(values.seconds) * 1000;
    await Promise.all(
      Array.from({ length: Number(values.inflight) }, async (_, w) => {
        for (let i = w; Date.now() < deadline; i += 7) {
          const a = await answer(bodies[i % bodies.length]!);
          if (!a.thisUpdate) throw new Error('not a signed answer');
          count++;
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    console.log(`live answers: ${count} in ${elapsed.toFixed(1)} s = ${(count / elapsed).toFixed(0)}/s, ${((used.user + used.system) / count).toFixed(0)} µs CPU each`);
  } finally {
    await ca.cleanup();
  }
}

runBench(main);
