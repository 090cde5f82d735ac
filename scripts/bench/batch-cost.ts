/**
 * What one issuance batch costs beside its certificates (issue 30): `issueBatch` called in a loop, one
 * batch after another, at several batch sizes, the CPU of this process's main thread, of its other
 * threads (signing, V8) and of the PostgreSQL backends serving it (found by their application_name) read
 * from /proc around each size. A fit of
 * CPU per certificate = c + B / size gives the per-certificate cost c and the per-batch cost B.
 *
 * Why it matters: EST gathers the requests that arrive together into one batch, so the batch size is
 * about half of one instance's concurrent clients. Spreading the same clients over three instances cuts
 * each instance's batches to a third and adds 2·B/(3·size) per certificate: CPU per certificate at three
 * instances stays within 1.15× of one only when B is about c or less (docs/issuance-performance.md,
 * "Scale-out").
 *
 *   npm run bench:batch-cost -- [--db postgres|sqlite] [--sizes 16,1,4,64,4,1,16] [--certs 480]
 *
 * Sizes run in the order given (repeat them ABBA to see the drift); each size's figures are pooled over
 * its runs. Last line: `batch-cost/per-batch-over-per-cert: <B ÷ c>`.
 */
import { parseArgs } from 'node:util';
import { benchCa, fmt, runBench, table } from './setup.js';
import { issuingDeps } from '../../src/app/context.js';
import { issueBatch, type IssueInput } from '../../src/ca/issue.js';
import { verifyCsr } from '../../src/x509/csr.js';
import { deviceCsrs } from './device-csrs.js';
import { growthByName, readProcStat, threadCpuByName } from './proc-stat.js';
import { sql, type Store } from '../../src/store/handle.js';

const { values } = parseArgs({
  options: {
    db: { type: 'string', default: 'postgres' },
    sizes: { type: 'string', default: '16,1,4,64,64,4,1,16' },
    certs: { type: 'string', default: '480' },
  },
});
const SIZES = values.sizes.split(',').map((s) => Number(s.trim()));
const CERTS = Number(values.certs);
const POSTGRES = values.db === 'postgres';
const log = (line: string) => process.stderr.write(`${line}\n`);
const APPLICATION = `hallmark-batch-cost-${process.pid}`;
/** This run's connections carry a name of their own, so that only their backends' CPU is counted. */
const POSTGRES_URL = (() => {
  const url = new URL(process.env.DATABASE_URL || process.env.HALLMARK_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test');
  url.searchParams.set('application_name', APPLICATION);
  return url.toString();
})();

/**
 * CPU seconds so far of the PostgreSQL backends serving this run (Linux /proc), by pid: whatever else
 * the database serves meanwhile (another bench, a test suite) is not counted.
 */
async function backendCpu(store: Store): Promise<Map<number, number>> {
  const rows = (await sql(store).raw('SELECT pid FROM pg_stat_activity WHERE application_name = ?', [APPLICATION])).rows as { pid: number }[];
  return new Map(rows.map(({ pid }) => [pid, readProcStat(`/proc/${pid}/stat`)?.cpuSeconds ?? 0]));
}

function backendCpuSince(before: Map<number, number>, after: Map<number, number>): number {
  let seconds = 0;
  for (const [pid, cpu] of after) seconds += cpu - (before.get(pid) ?? 0);
  return seconds;
}

interface Sample {
  certs: number;
  main: number;
  others: number;
  /** The other threads' CPU seconds by thread name (V8's helpers, libuv's pool, signing workers). */
  byName: Map<string, number>;
  database: number;
  wallSeconds: number;
}

async function main() {
  const bench = await benchCa({ databaseUrl: POSTGRES ? POSTGRES_URL : null });
  try {
    const deps = await issuingDeps(bench.ctx);
    // A key per certificate, as the factory line makes them; identities never repeat.
    const pool = 2000;
    const csrs = await Promise.all(deviceCsrs(Array.from({ length: pool }, (_, i) => `BATCH-${i}`)).map((der) => verifyCsr(der)));
    let next = 0;
    const input = (): IssueInput => {
      const n = next++;
      return { csr: csrs[n % pool]!, profile: 'device', identity: `BATCH-${n % pool}`, requester: { kind: 'enrollment' }, actor: 'bench' };
    };
    // Warm-up: templates linted, signing threads started, the code paths compiled.
    for (let i = 0; i < 20; i++) await issueBatch(deps, Array.from({ length: 16 }, input));

    const samples = new Map<number, Sample[]>();
    for (const size of SIZES) {
      log(`batches of ${size}: ${CERTS} certificates…`);
      const threadsBefore = threadCpuByName(process.pid);
      const databaseBefore = POSTGRES ? await backendCpu(bench.ctx.store) : new Map<number, number>();
      const started = performance.now();
      let certs = 0;
      while (certs < CERTS) {
        const results = await issueBatch(deps, Array.from({ length: size }, input));
        const failed = results.find((r) => r instanceof Error);
        if (failed) throw failed;
        certs += size;
      }
      const wallSeconds = (performance.now() - started) / 1000;
      const threadsAfter = threadCpuByName(process.pid);
      const byName = growthByName(threadsBefore, threadsAfter);
      const main = byName.get('main thread') ?? 0;
      byName.delete('main thread');
      const others = [...byName.values()].reduce((t, cpu) => t + cpu, 0);
      const sample = { certs, main, others, byName, database: POSTGRES ? backendCpuSince(databaseBefore, await backendCpu(bench.ctx.store)) : 0, wallSeconds };
      samples.set(size, [...(samples.get(size) ?? []), sample]);
    }

    const perCert = (runs: Sample[], pick: (s: Sample) => number) => (runs.reduce((t, s) => t + pick(s), 0) * 1e6) / runs.reduce((t, s) => t + s.certs, 0);
    const total = (s: Sample) => s.main + s.others + s.database;
    const sizes = [...samples.keys()].sort((a, b) => a - b);
    const rows: (string | number)[][] = [['batch size', 'runs', 'certificates', 'main thread µs/cert', 'other threads µs/cert', POSTGRES ? 'PostgreSQL µs/cert' : 'database', 'total µs/cert', 'wall µs/cert']];
    for (const size of sizes) {
      const runs = samples.get(size)!;
      rows.push([size, runs.length, runs.reduce((t, s) => t + s.certs, 0), fmt(perCert(runs, (s) => s.main)), fmt(perCert(runs, (s) => s.others)), POSTGRES ? fmt(perCert(runs, (s) => s.database)) : '(in process)', fmt(perCert(runs, total)), fmt(perCert(runs, (s) => s.wallSeconds))]);
    }
    console.log(table(rows));
    for (const size of sizes) {
      const runs = samples.get(size)!;
      const names = new Map<string, number>();
      for (const run of runs) for (const [name, cpu] of run.byName) names.set(name, (names.get(name) ?? 0) + cpu);
      const certs = runs.reduce((t, s) => t + s.certs, 0);
      const shares = [...names].sort((a, b) => b[1] - a[1]);
      console.log(`batches of ${size}: other threads µs/cert by name: ${shares.map(([name, cpu]) => `${name} ${fmt((cpu * 1e6) / certs)}`).join(', ') || 'none'}`);
    }
    // Least squares of total CPU per certificate against 1/size: intercept c, slope B.
    const points = sizes.map((size) => ({ x: 1 / size, y: perCert(samples.get(size)!, total) }));
    const meanX = points.reduce((t, p) => t + p.x, 0) / points.length;
    const meanY = points.reduce((t, p) => t + p.y, 0) / points.length;
    const slope = points.reduce((t, p) => t + (p.x - meanX) * (p.y - meanY), 0) / points.reduce((t, p) => t + (p.x - meanX) ** 2, 0);
    const intercept = meanY - slope * meanX;
    console.log(`${values.db}: CPU per certificate ≈ ${fmt(intercept)} µs + ${fmt(slope)} µs per batch ÷ batch size (server threads + database)`);
    console.log(`batch-cost/per-batch-over-per-cert: ${(slope / intercept).toFixed(2)}`);
  } finally {
    await bench.cleanup();
  }
}

runBench(main);
