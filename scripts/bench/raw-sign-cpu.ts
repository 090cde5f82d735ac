/** Raw PKCS#11 signatures: rate and CPU per signature, by path (main-thread sessions, signing threads). */
import { benchCa, rawSignRate, runBench } from './setup.js';
import { issuingDeps } from '../../src/app/context.js';

async function main() {
  const ca = await benchCa();
  try {
    const issue = await issuingDeps(ca.ctx);
    const signer = issue.issuers.get('issuing').signer;
    for (const inflight of [1, 4, 32]) {
      const cpu = process.cpuUsage();
      const t = performance.now();
      const rate = await rawSignRate(signer, 3, inflight);
      const used = process.cpuUsage(cpu);
      const n = rate * ((performance.now() - t) / 1000);
      console.log(`signDigest ×${inflight}: ${rate.toFixed(0)}/s, ${((used.user + used.system) / n).toFixed(0)} µs CPU each`);
    }
    const items = Array.from({ length: 256 }, (_, i) => new Uint8Array(120).fill(i));
    let count = 0;
    const cpu = process.cpuUsage();
    const t = performance.now();
    while (performance.now() - t < 3000) {
      await signer.signMany(items);
      count += items.length;
    }
    const used = process.cpuUsage(cpu);
    console.log(`signMany ×256: ${(count / ((performance.now() - t) / 1000)).toFixed(0)}/s, ${((used.user + used.system) / count).toFixed(0)} µs CPU each`);
  } finally {
    await ca.cleanup();
  }
}
runBench(main);
