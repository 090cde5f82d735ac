/**
 * End-to-end issuance against the raw PKCS#11 signing rate of the same token, measured in the same
 * run (issue 10). For SQLite and PostgreSQL: the factory batch path (POST /api/v1/factory/provision/batch)
 * and EST simpleenroll with 32 concurrent clients per server instance, each over TLS with its own
 * bootstrap certificate.
 * Every certificate issued is checked afterwards: all parsed, serials counted distinct, a sample
 * through `openssl verify`; and the audit chain is verified end to end.
 * Last line: `issue/raw-sign: <lowest of the four ratios>`.
 *
 * `--workers <n>` runs the server as `hallmark serve --workers <n>` (separate processes) instead of in
 * this process. `--instances 1,3` (PostgreSQL) runs each path against 1, then 3 separate `hallmark
 * serve` processes on the one database (the clients spread over their ports) and compares the CPU each
 * certificate costs (server + PostgreSQL): the last line is then `issue/scale-efficiency: <lowest over
 * the paths of CPU per certificate at the fewest instances ÷ at the most>`; a count given more than once
 * (`--instances 1,3,3,1`) is pooled over its runs, and the tables are vacuumed and analysed after each warm-up. Lock waits
 * are sampled from pg_stat_activity throughout. `--stations <n>` posts factory batches from n stations at
 * once. EST's load grows with the instances: `--est-clients-per-instance <n>` (default 32) clients for
 * each, spread over their ports, so that every instance sees the load one instance sees alone, as when a
 * deployment scales out because its fleet grew. `--est-clients <n>` instead holds the clients at n in
 * all, whatever the instances: one load split n ways, whose smaller batches cost more per certificate
 * (docs/issuance-performance.md, "Scale-out: the pre-signing counted alike"). `--est-rate <n>` and
 * `--batch-rate <n>` pace the measured runs (EST requests, factory certificates a second in all; 0, the
 * default: back to back), to compare CPU per certificate below saturation; `--no-presign` turns the OCSP
 * pre-signer off (a diagnostic: what each instance's share of pre-signed responses costs). With
 * HALLMARK_BENCH_SERVE_PROFILE=<dir>, each `hallmark serve` writes a V8 CPU profile there as it exits.
 *
 * `--warm-seconds <s>` (default 4) warms the server processes up on EST first, s per instance, and `--warm-certs <n>` (default
 * 6000) on the factory path, n certificates per instance in batches of the measured size; neither is measured (see
 * WARM_SECONDS, WARM_CERTS).
 * With separate server processes, their CPU is also printed by thread name: the main thread, the workers
 * (hm-sign, hm-csr) and Node's unnamed ones ("node": V8's compiler and GC threads, libuv's pool).
 *
 *   npm run bench:issue -- [--devices 20000] [--batch 500] [--est-seconds 10] [--est-clients-per-instance 32] [--est-clients <n>] [--warm-seconds 4] [--warm-certs 6000] [--db sqlite,postgres] [--paths batch,est] [--workers 1] [--instances 1] [--stations 2] [--est-rate 0] [--batch-rate 0] [--no-presign]
 */
import { sql, type Store } from '../../src/store/handle.js';
import { isPostgres } from '../../src/store/db.js';
import { execFileSync, spawn, type ChildProcessByStdio } from 'node:child_process';
import { X509Certificate, webcrypto } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Readable } from 'node:stream';
import YAML from 'yaml';
import { projectRoot } from '../../src/config/env.js';
import { addStation } from '../../src/factory/stations.js';
import { x509 } from '../../src/x509/crypto-provider.js';
import { toPem } from '../../src/x509/pem.js';
import { benchCa, fmt, runBench, table } from './setup.js';
import { deviceCsrs } from './device-csrs.js';
import { isCsrProblem, parseAndVerifyCsr } from '../../src/x509/csr-parse.js';
import { sessionSignRate } from './raw-sign.js';
import { clusterServer, inProcessServer, instanceServers, type BenchServer } from './bench-server.js';
import { growthByName, postgresCpuSeconds } from './proc-stat.js';
import { profiled } from './cpu-profile.js';
import { verifyAuditChain } from '../../src/audit/verify.js';
import { readTlsMaterial } from '../../src/http/tls-material.js';
import { bareHttps, fetchOnce } from './bare-https.js';

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '20000' },
    batch: { type: 'string', default: '500' },
    'est-seconds': { type: 'string', default: '10' },
    'est-clients': { type: 'string', default: '' },
    'est-clients-per-instance': { type: 'string', default: '32' },
    'est-rate': { type: 'string', default: '0' },
    'batch-rate': { type: 'string', default: '0' },
    'no-presign': { type: 'boolean', default: false },
    'warm-seconds': { type: 'string', default: '4' },
    'warm-certs': { type: 'string', default: '6000' },
    db: { type: 'string', default: 'sqlite,postgres' },
    paths: { type: 'string', default: 'batch,est' },
    workers: { type: 'string', default: '1' },
    instances: { type: 'string', default: '1' },
    stations: { type: 'string', default: '2' },
    child: { type: 'boolean', default: false },
  },
});
const DEVICES = Number(values.devices);
const BATCH = Number(values.batch);
const EST_SECONDS = Number(values['est-seconds']);
/** EST's clients at a number of instances: per instance (the load grows with them), or a fixed total when given. */
const EST_CLIENTS_IN_ALL = values['est-clients'] ? Number(values['est-clients']) : undefined;
const EST_CLIENTS_PER_INSTANCE = Number(values['est-clients-per-instance']);
const estClients = (instances: number) => EST_CLIENTS_IN_ALL ?? EST_CLIENTS_PER_INSTANCE * instances;
const estLoad = EST_CLIENTS_IN_ALL === undefined ? `${EST_CLIENTS_PER_INSTANCE} EST clients per instance` : `${EST_CLIENTS_IN_ALL} EST clients in all, split over the instances`;
/** Paced load (requests or certificates a second in all, 0: back to back): cost per certificate below saturation. */
const EST_RATE = Number(values['est-rate']);
const BATCH_RATE = Number(values['batch-rate']);
/**
 * Each server process is warmed up on each path before it is measured: its own load, not measured,
 * for WARM_SECONDS per instance (n instances share the clients, so each needs n times as long to see
 * as many requests). V8 keeps optimising the hot code for thousands of requests after start; in a
 * short run that compiling (on V8's threads) is a large share of the CPU, and three fresh instances pay
 * it three times for the same certificates (docs/issuance-performance.md, "Scale-out: warm-up, and what grows
 * with instances").
 */
const WARM_SECONDS = Number(values['warm-seconds']);
/**
 * The factory path's warm-up, by count: WARM_CERTS certificates per instance, in batches of the measured
 * size. A warm-up by time gives each of n instances sharing two cores far fewer requests than one
 * instance gets in the same time per instance, and batches of another size leave the code that a batch
 * of 500 runs less optimised: both showed as V8's threads compiling in the measured run, one share per
 * instance (docs/issuance-performance.md, "Scale-out: a fair warm-up, and the recording prepared").
 */
const WARM_CERTS = Number(values['warm-certs']);
const WORKERS = Number(values.workers);
const INSTANCES = values.instances.split(',').map((n) => Number(n.trim()));
const STATIONS = Number(values.stations);
/** Separate processes whenever instances are compared, so that 1 and N are measured the same way. */
const SEPARATE_INSTANCES = INSTANCES.length > 1 || INSTANCES[0] !== 1;
const PATHS = new Set(values.paths.split(',').map((p) => p.trim()));
const POSTGRES_URL = process.env.DATABASE_URL || process.env.HALLMARK_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const log = (line: string) => process.stderr.write(`${line}\n`);
const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;

/** A manufacturer CA and one bootstrap (IDevID) certificate per EST client, made with @peculiar/x509. */
async function manufacturer(count: number) {
  const caKeys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = new Date(Date.now() - 60_000);
  const later = new Date(Date.now() + 86_400_000);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=Bench Manufacturer CA',
    notBefore: now,
    notAfter: later,
    keys: caKeys,
    signingAlgorithm: alg,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)],
  });
  const devices = [];
  for (let i = 0; i < count; i++) {
    const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const id = `EST-${i}`;
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: (i + 2).toString(16).padStart(2, '0'),
      subject: `CN=${id}`,
      issuer: ca.subject,
      notBefore: now,
      notAfter: later,
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: alg,
      extensions: [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth])],
    });
    const key = toPem(new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)), 'PRIVATE KEY');
    devices.push({ id, cert: cert.toString('pem'), key });
  }
  return { caPem: ca.toString('pem'), devices };
}

/** The shipped configuration with rate limits out of the way and the manufacturer CA trusted for EST. */
function benchConfig(manufacturerPem: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hallmark-bench-config-'));
  fs.cpSync(path.join(projectRoot(), 'ca-config'), dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'manufacturer.pem'), manufacturerPem);
  const file = path.join(dir, 'hallmark.yaml');
  const config = YAML.parse(fs.readFileSync(file, 'utf8'));
  config.security.rateLimits = { ...config.security.rateLimits, enrollment: 100_000_000, provisioning: 100_000_000 };
  config.est.labels = { default: { profile: 'device', enroll: ['bootstrap'] } };
  config.est.bootstrapCas = ['manufacturer.pem'];
  // Diagnostic: without the OCSP pre-signer (each instance's share of signing, storing and loading a response per certificate).
  if (values['no-presign']) config.revocation.ocsp.presign = false;
  fs.writeFileSync(file, YAML.stringify(config));
  return file;
}

interface ClientResult {
  seconds: number;
  /** CPU seconds the load generator used. */
  cpuSeconds: number;
  /** CPU seconds the server process (all its threads) used during the run. */
  serverCpuSeconds: number;
  /** CPU seconds PostgreSQL's processes used during the run (0 for SQLite, which runs inside the server). */
  databaseCpuSeconds: number;
  issued: number;
  failures: number;
  firstFailure: string;
  latencies: number[];
  maxRssMiB: number;
  /** PostgreSQL only: estimated seconds backends waited on locks, and the most waiting at once. */
  lockWaitSeconds?: number;
  lockWaitPeak?: number;
  /** PostgreSQL only: transactions committed during the run (every process's, the sequencer's included). */
  transactions?: number;
  /** Separate server processes: their CPU seconds during the run by thread name (main thread, V8's helpers, libuv, signing workers). */
  serverThreads?: Record<string, number>;
  /** PostgreSQL only: what the run did to each table (pg_stat_user_tables counters that moved). */
  tables?: TableActivity;
  /** Seconds after the load ended until every certificate of the run had its pre-signed OCSP response (its CPU counted with the run's). */
  catchUpSeconds?: number;
}

function runClient(backend: 'sqlite' | 'postgres', server: BenchServer, home: string, job: { mode: string; [field: string]: unknown }, store?: Store): Promise<ClientResult> {
  const unprofiled = () => runClientUnprofiled(backend, server, home, job, store);
  // Only the in-process server's threads are this process's.
  if (WORKERS > 1 || SEPARATE_INSTANCES) return unprofiled();
  return profiled(`${backend}-${job.mode}${job.request ? `-${String(job.request)}` : ''}`, unprofiled, log);
}

/**
 * Heavyweight-lock waits on PostgreSQL while a run lasts: every 25 ms, how many of the database's
 * backends wait on a lock (pg_stat_activity.wait_event_type = 'Lock': a row or table lock another
 * transaction holds). The sum of waiters × interval estimates the seconds spent waiting.
 */
function sampleLockWaits(store: Store | undefined) {
  const INTERVAL_MS = 25;
  let waitSeconds = 0;
  let samples = 0;
  let peak = 0;
  let stopped = false;
  const loop = (async () => {
    while (store && !stopped) {
      const [row] = (await sql(store).raw(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)).rows as { n: string }[];
      const waiting = Number(row!.n);
      waitSeconds += (waiting * INTERVAL_MS) / 1000;
      peak = Math.max(peak, waiting);
      samples++;
      await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS));
    }
  })();
  return async () => {
    stopped = true;
    await loop;
    return { lockWaitSeconds: waitSeconds, lockWaitPeak: peak, lockSamples: samples };
  };
}

/**
 * Transactions committed in the database so far (pg_stat_database). Backends publish their counts at
 * most once a second, so a reading after a run waits that long first.
 */
async function committedTransactions(store: Store | undefined): Promise<number | undefined> {
  if (!store) return undefined;
  const [row] = (await sql(store).raw('SELECT xact_commit AS n FROM pg_stat_database WHERE datname = current_database()')).rows as { n: string }[];
  return Number(row!.n);
}

type TableActivity = Record<string, Record<string, number>>;
const TABLE_COUNTERS = ['n_tup_ins', 'n_tup_upd', 'n_tup_del', 'idx_scan', 'idx_tup_fetch', 'seq_scan', 'seq_tup_read'] as const;

/**
 * PostgreSQL's counters for the bench's tables (pg_stat_user_tables): rows written and read, scans.
 * Published like xact_commit (read after the same wait): they show what each certificate costs the
 * database table by table, and what grows with the number of instances.
 */
async function tableActivity(store: Store | undefined): Promise<TableActivity | undefined> {
  if (!store) return undefined;
  const rows = (await sql(store).raw(`SELECT relname, ${TABLE_COUNTERS.map((c) => `coalesce(${c}, 0) AS ${c}`).join(', ')} FROM pg_stat_user_tables WHERE schemaname = current_schema()`)).rows as Record<string, string>[];
  return Object.fromEntries(rows.map((r) => [r.relname!, Object.fromEntries(TABLE_COUNTERS.map((c) => [c, Number(r[c])]))]));
}

function activityDelta(before: TableActivity, after: TableActivity): TableActivity {
  const delta: TableActivity = {};
  for (const [table, counters] of Object.entries(after)) {
    const moved = Object.fromEntries(TABLE_COUNTERS.map((c) => [c, counters[c]! - (before[table]?.[c] ?? 0)]).filter(([, n]) => (n as number) > 0));
    if (Object.keys(moved).length) delta[table] = moved;
  }
  return delta;
}

/** How the CPU of separate server processes grew between two readings, by thread name. */
const threadDelta = (before: Map<string, number> | undefined, after: Map<string, number> | undefined): Record<string, number> | undefined =>
  before && after ? Object.fromEntries(growthByName(before, after)) : undefined;

/**
 * Waits until every certificate recorded since `since` has its pre-signed OCSP response (the pre-signer
 * is on by default: one more signature, row and cache entry per certificate). The pre-signer runs beside
 * issuance and falls behind under load: one instance had signed 16–60% of a run's responses when the
 * run ended, three instances 87–92%. Counting only the run's own seconds charged three instances for
 * work one instance did after it, and the next run paid for the backlog of the one before
 * (docs/issuance-performance.md, "Scale-out: the pre-signing counted alike"). A measured run starts with
 * the backlog done and ends when its own is, so each certificate is charged its response once, at any
 * count. Polls twice a second; each poll is counted with the rest, so it must stay small: certificates
 * found by creation time, each looked up by serial. Left to the planner, PostgreSQL hashed the run's
 * certificates and read every stored response, in parallel workers, to probe them: 250-350 ms a poll
 * at 150,000 responses, counted in the run's CPU and growing with each run of the bench.
 */
async function presignCaughtUp(store: Store | undefined, since: number): Promise<number> {
  if (!store || values['no-presign']) return 0;
  const started = performance.now();
  for (;;) {
    const missing = await sql(store).transaction(async (trx) => {
      // (The wait before a run, from 0, is not counted: a hash join over the whole table suits it better.)
      if (isPostgres(trx) && since > 0) for (const setting of ['enable_hashjoin = off', 'enable_mergejoin = off', 'max_parallel_workers_per_gather = 0']) await trx.raw(`SET LOCAL ${setting}`);
      const [row] = await trx('certificates as c')
        .leftJoin('ocsp_responses as r', 'r.serial', 'c.serial')
        .where('c.created_at', '>=', since)
        .whereIn('c.status', ['active', 'revoked'])
        .whereNull('r.serial')
        .count({ n: '*' });
      return Number(row!.n);
    });
    if (missing === 0) return (performance.now() - started) / 1000;
    if (performance.now() - started > 300_000) throw new Error(`${missing} certificates still have no pre-signed OCSP response after 300 s`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function runClientUnprofiled(backend: 'sqlite' | 'postgres', server: Pick<BenchServer, 'cpuSeconds' | 'threadCpuSeconds'>, home: string, job: unknown, store?: Store): Promise<ClientResult> {
  // A measured run (given the store) starts with every earlier certificate's response signed.
  await presignCaughtUp(store, 0);
  const runStarted = Date.now();
  const file = path.join(home, `job-${Date.now()}.json`);
  fs.writeFileSync(file, JSON.stringify(job));
  const pgStore = backend === 'postgres' ? store : undefined;
  const transactionsBefore = await committedTransactions(pgStore);
  const tablesBefore = await tableActivity(pgStore);
  const cpuBefore = server.cpuSeconds();
  const threadsBefore = server.threadCpuSeconds?.();
  const databaseBefore = backend === 'postgres' ? postgresCpuSeconds() : 0;
  const locks = sampleLockWaits(pgStore);
  const child = spawn(process.execPath, [path.join(projectRoot(), 'dist', 'scripts', 'bench', 'issue-client.js'), file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const result = await jsonFromChild<ClientResult>(child, 'client');
  // The run's certificates with their responses: the CPU read once the pre-signer has signed them all.
  const catchUpSeconds = await presignCaughtUp(store, runStarted);
  const measured = { catchUpSeconds, ...result, serverCpuSeconds: server.cpuSeconds() - cpuBefore, serverThreads: threadDelta(threadsBefore, server.threadCpuSeconds?.()), databaseCpuSeconds: backend === 'postgres' ? postgresCpuSeconds() - databaseBefore : 0, ...(await locks()) };
  if (transactionsBefore === undefined) return measured;
  await new Promise((resolve) => setTimeout(resolve, 1100));
  return { ...measured, transactions: (await committedTransactions(pgStore))! - transactionsBefore, tables: activityDelta(tablesBefore!, (await tableActivity(pgStore))!) };
}

/** All certificates issued since `since`: parsed, serials distinct, a sample verified by openssl. */
async function checkIssued(ctx: Awaited<ReturnType<typeof benchCa>>['ctx'], home: string, since: number, rootPem: string, issuingPem: string) {
  const rows = (await sql(ctx.store)('certificates').select('serial', 'der', 'status').where('created_at', '>=', since).where({ profile: 'device' })) as { serial: string; der: Buffer | null; status: string }[];
  const active = rows.filter((r) => r.status === 'active');
  const serials = new Set<string>();
  for (const row of active) {
    const cert = new X509Certificate(row.der!);
    if (cert.serialNumber.toLowerCase() !== row.serial) throw new Error(`certificate ${row.serial} carries serial ${cert.serialNumber}`);
    serials.add(cert.serialNumber);
  }
  const sampleFile = path.join(home, 'sample.pem');
  const step = Math.max(1, Math.floor(active.length / 200));
  const sample = active.filter((_, i) => i % step === 0);
  const roots = path.join(home, 'bench-root.pem');
  const untrusted = path.join(home, 'bench-issuing.pem');
  fs.writeFileSync(roots, rootPem);
  fs.writeFileSync(untrusted, issuingPem);
  let verified = 0;
  for (const row of sample) {
    fs.writeFileSync(sampleFile, toPem(row.der!, 'CERTIFICATE'));
    const out = execFileSync('openssl', ['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', roots, '-untrusted', untrusted, sampleFile], { encoding: 'utf8' });
    if (out.includes(': OK')) verified++;
  }
  // And the audit log the run appended to (one or two entries a certificate) is one intact chain.
  const chain = await verifyAuditChain(ctx.store);
  if (!chain.ok) throw new Error(`the audit chain is broken after the run: ${chain.problems.slice(0, 3).join('; ')}`);
  return { recorded: rows.length, active: active.length, distinct: serials.size, sampled: sample.length, verified, auditEntries: chain.entries };
}

type PathRun = { path: 'batch' | 'est'; instances: number; run: ClientResult; check: Awaited<ReturnType<typeof checkIssued>> };

async function startServer(bench: Awaited<ReturnType<typeof benchCa>>, instances: number): Promise<BenchServer> {
  if (SEPARATE_INSTANCES) return instanceServers(bench, instances, bench.schema);
  return WORKERS > 1 ? clusterServer(bench, WORKERS, bench.schema) : inProcessServer(bench);
}

async function measureBackend(backend: 'sqlite' | 'postgres', maker: Awaited<ReturnType<typeof manufacturer>>, bench: Awaited<ReturnType<typeof benchCa>>) {
  const runs: PathRun[] = [];
  let floors: { estFloor?: ClientResult; nodeFloor?: ClientResult } = {};
  let serverRssMiB = 0;
  for (const [round, instances] of INSTANCES.entries()) {
    const running = await startServer(bench, instances);
    try {
      const first = round === 0;
      const measured = await measureOnce(backend, maker, bench, running, instances, first, round);
      runs.push(...measured.runs);
      if (first) floors = measured.floors;
      serverRssMiB = Math.max(serverRssMiB, running.peakRssMiB());
    } finally {
      await running.close();
    }
  }
  return { runs, ...floors, serverRssMiB };
}

/**
 * What autovacuum does for a deployment, done after each warm-up, before each measured run: without it
 * (this machine's PostgreSQL runs with autovacuum off) a later round pays for the dead rows of the rounds
 * before it, and the first round plans on the statistics of empty tables (seen: a sequential scan of
 * certificates every 100 certificates in the first round only), so comparing instance counts measured
 * one after the other would compare the database's age instead.
 */
async function vacuumBenchTables(bench: Awaited<ReturnType<typeof benchCa>>): Promise<void> {
  const db = sql(bench.ctx.store);
  const tables = (await db.raw('SELECT tablename FROM pg_tables WHERE schemaname = current_schema()')).rows as { tablename: string }[];
  const started = performance.now();
  for (const { tablename } of tables) await db.raw('VACUUM (ANALYZE) ??', [tablename]);
  log(`postgres: VACUUM (ANALYZE) of ${tables.length} tables before measuring, ${fmt((performance.now() - started) / 1000, 1)} s`);
}

/** The paths against one server (one process, a cluster, or `instances` separate ones); the floors when asked. */
async function measureOnce(backend: 'sqlite' | 'postgres', maker: Awaited<ReturnType<typeof manufacturer>>, bench: Awaited<ReturnType<typeof benchCa>>, running: BenchServer, instances: number, withFloors: boolean, round: number) {
  const rootPem = toPem(running.issue.issuers.get('root').certificate, 'CERTIFICATE');
  const issuingPem = toPem(running.issue.issuers.get('issuing').certificate, 'CERTIFICATE');
  const stations: Awaited<ReturnType<typeof addStation>>[] = [];
  for (let s = 0; s < STATIONS; s++) {
    stations.push(await addStation({ store: bench.ctx.store, audit: bench.ctx.audit, issue: running.issue }, { name: `bench-${round}-${s}`, line: 'bench', profiles: ['device'], quotaPerHour: 100_000_000, actor: 'bench', dir: `${bench.home}/stations` }));
  }
  const device = (id: string, csr: Uint8Array) => ({ deviceSerial: id, model: 'bench', lot: 'lot-1', firmwareVersion: '1', csr: toPem(csr, 'CERTIFICATE REQUEST') });
  const ports = running.ports;

  // Warm-up (workers and instances started, templates linted, the code optimised), not timed: first a
  // batch of 100 through every station, then WARM_CERTS per instance in batches of the measured size,
  // so that every instance has issued as many certificates, in batches of the same size, as the single
  // instance did before it is measured (see WARM_CERTS).
  const warmBatches = (count: number, size: number, tag: string) => {
    const ids = Array.from({ length: size * count }, (_, i) => `WARM-${round}-${tag}-${i}`);
    const warm = deviceCsrs(ids).map((c, i) => device(ids[i]!, c));
    return runClientUnprofiled(backend, running, bench.home, { mode: 'batch', port: running.https, ports, ca: rootPem, concurrency: STATIONS, tokens: stations.map((s) => s.apiKey), batches: Array.from({ length: count }, (_, b) => warm.slice(b * size, b * size + size)) });
  };
  await warmBatches(STATIONS, 100, 'first');
  if (WARM_CERTS > 0 && PATHS.has('batch')) {
    const more = Math.max(STATIONS, Math.ceil((WARM_CERTS * instances) / BATCH));
    log(`${backend}, ${instances} instance${instances === 1 ? '' : 's'}: warming up, ${more} factory batches of ${BATCH} (${fmt(Math.round((more * BATCH) / instances))} certificates per instance), not measured…`);
    await warmBatches(more, BATCH, 'more');
  }
  if (backend === 'postgres') await vacuumBenchTables(bench);

  const runs: PathRun[] = [];
  const where = `${backend}, ${instances} instance${instances === 1 ? '' : 's'}`;
  if (PATHS.has('batch')) {
    log(`${where}: making ${DEVICES} device CSRs…`);
    const ids = Array.from({ length: DEVICES }, (_, i) => `DEV-${backend}-${round}-${i}`);
    const csrs = deviceCsrs(ids);
    const batches = [];
    for (let i = 0; i < DEVICES; i += BATCH) batches.push(ids.slice(i, i + BATCH).map((id, j) => device(id, csrs[i + j]!)));

    log(`${where}: factory batch, ${DEVICES} devices in batches of ${BATCH}, ${STATIONS} stations${BATCH_RATE ? `, paced at ${BATCH_RATE} certificates/s` : ""}…`);
    const since = Date.now();
    const run = await runClient(backend, running, bench.home, { mode: 'batch', port: running.https, ports, ca: rootPem, concurrency: STATIONS, tokens: stations.map((s) => s.apiKey), batches, rate: BATCH_RATE }, bench.ctx.store);
    runs.push({ path: 'batch', instances, run, check: await checkIssued(bench.ctx, bench.home, since, rootPem, issuingPem) });
  }
  if (!PATHS.has('est')) return { runs, floors: {} };

  const clients = estClients(instances);
  const estCsrs = deviceCsrs(maker.devices.slice(0, clients).map((d) => d.id), 1);
  const estJob = (seconds: number, rate = 0) => ({
    mode: 'est',
    port: running.https,
    ports,
    ca: rootPem,
    seconds,
    rate,
    clients: maker.devices.slice(0, clients).map((d, i) => ({ cert: d.cert, key: d.key, csr: Buffer.from(estCsrs[i]!).toString('base64') })),
  });
  if (WARM_SECONDS > 0) {
    log(`${where}: warming up EST, ${WARM_SECONDS * instances} s, not measured…`);
    await runClientUnprofiled(backend, running, bench.home, estJob(WARM_SECONDS * instances));
    if (backend === 'postgres') await vacuumBenchTables(bench);
  }
  log(`${where}: EST simpleenroll, ${clients} clients for ${EST_SECONDS} s${EST_RATE ? `, paced at ${EST_RATE} requests/s` : ""}…`);
  const since = Date.now();
  const estRun = await runClient(backend, running, bench.home, estJob(EST_SECONDS, EST_RATE), bench.ctx.store);
  runs.push({ path: 'est', instances, run: estRun, check: await checkIssued(bench.ctx, bench.home, since, rootPem, issuingPem) });
  if (!withFloors) return { runs, floors: {} };

  // The floor under EST: the same clients and connections, an answer of about the same size, nothing
  // checked, signed or stored. No enrollment can go faster than this through the same HTTPS server.
  const floorSeconds = Math.min(5, EST_SECONDS);
  const cacertsJob = (port: number, spread?: number[]) => ({
    mode: 'est',
    request: 'cacerts',
    port,
    ports: spread,
    ca: rootPem,
    seconds: floorSeconds,
    clients: maker.devices.slice(0, clients).map((d) => ({ cert: d.cert, key: d.key, csr: '' })),
  });
  log(`${where}: EST floor, GET cacerts, ${clients} clients for ${floorSeconds} s…`);
  const floor = await runClient(backend, running, bench.home, cacertsJob(running.https, ports));
  if (floor.failures) throw new Error(`${backend} EST floor: ${floor.failures} failures, first: ${floor.firstFailure}`);

  // And Node's own share of that floor: a bare node:https server, the same TLS options, certificate
  // and clients, the same answer bytes, nothing else.
  const material = readTlsMaterial(bench.ctx.env.home, bench.ctx.config.tlsNames, running.issue);
  if (!material) throw new Error('no HTTPS certificate to give the bare server');
  const bare = await bareHttps(material, [rootPem, issuingPem, maker.caPem], await fetchOnce(running.https, '/.well-known/est/cacerts', rootPem));
  let nodeFloor: ClientResult;
  try {
    log(`${where}: Node's floor, a bare node:https server, ${clients} clients for ${floorSeconds} s…`);
    nodeFloor = await runClientUnprofiled(backend, bare, bench.home, cacertsJob(bare.port));
  } finally {
    await bare.close();
  }
  if (nodeFloor.failures) throw new Error(`${backend} Node floor: ${nodeFloor.failures} failures, first: ${nodeFloor.firstFailure}`);
  return { runs, floors: { estFloor: floor, nodeFloor } };
}

/**
 * CSRs parsed and their signatures verified per second on one thread, as the server does each
 * (parseAndVerifyCsr): the one piece of crypto besides the signature that no issuance may skip.
 */
function csrCheckRate(): number {
  const csrs = deviceCsrs(Array.from({ length: 500 }, (_, i) => `CHECK-${i}`), 1);
  let checked = 0;
  const started = performance.now();
  while (performance.now() - started < 1000) {
    for (const csr of csrs) if (isCsrProblem(parseAndVerifyCsr(csr))) throw new Error('a bench CSR did not verify');
    checked += csrs.length;
  }
  return checked / ((performance.now() - started) / 1000);
}

/**
 * One backend in this process (SoftHSM reads its configuration once per process, so each backend
 * gets a process, its own token and data directory); prints its figures as JSON.
 */
async function child(backend: 'sqlite' | 'postgres') {
  const maker = await manufacturer(Math.max(...INSTANCES.map(estClients)));
  const configFile = benchConfig(maker.caPem);
  const bench = await benchCa({ databaseUrl: backend === 'postgres' ? POSTGRES_URL : null, configFile });
  // The raw rate of the issuing key on this token, before and after the runs.
  const target = {
    modulePath: bench.ctx.env.pkcs11Module,
    tokenLabel: 'bench',
    pin: fs.readFileSync(bench.env.HALLMARK_PKCS11_PIN_FILE!, 'utf8').trim(),
    keyLabel: 'hallmark-ca-issuing',
  };
  let figures;
  try {
    log(`${backend}: measuring the raw PKCS#11 signing rate…`);
    const rawBefore = await sessionSignRate(target, 1);
    const rawTwoThreads = await sessionSignRate(target, 2);
    const measured = await measureBackend(backend, maker, bench);
    const rawAfter = await sessionSignRate(target, 1);
    figures = { rawBefore, rawAfter, rawTwoThreads, csrChecks: csrCheckRate(), ...measured };
  } finally {
    // A failed run too: its data directory, token and PostgreSQL schema are not left behind.
    await bench.cleanup();
    fs.rmSync(path.dirname(configFile), { recursive: true, force: true });
  }
  // Written before runBench's process.exit: a pipe takes a long result (an EST run's latencies) in parts.
  const result = `${JSON.stringify({ backend, ...figures })}\n`;
  await new Promise<void>((resolve, reject) => process.stdout.write(result, (e) => (e ? reject(e) : resolve())));
}

/**
 * What a child process printed on stdout, parsed, once it has ended ('close': 'exit' can come before
 * the pipe is drained).
 */
function jsonFromChild<T>(child: ChildProcessByStdio<null, Readable, null>, name: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as T) : reject(new Error(`${name} exited with ${code}`))));
  });
}

function spawnChild(backend: string): Promise<Awaited<ReturnType<typeof measureBackend>> & { backend: string; rawBefore: number; rawAfter: number; rawTwoThreads: number; csrChecks: number }> {
  const args = [process.argv[1]!, '--child', '--db', backend, '--paths', values.paths, '--devices', String(DEVICES), '--batch', String(BATCH), '--est-seconds', String(EST_SECONDS), ...(EST_CLIENTS_IN_ALL === undefined ? [] : ['--est-clients', String(EST_CLIENTS_IN_ALL)]), '--est-clients-per-instance', String(EST_CLIENTS_PER_INSTANCE), '--est-rate', String(EST_RATE), '--batch-rate', String(BATCH_RATE), ...(values['no-presign'] ? ['--no-presign'] : []), '--warm-seconds', String(WARM_SECONDS), '--warm-certs', String(WARM_CERTS), '--workers', String(WORKERS), '--instances', values.instances, '--stations', String(STATIONS)];
  return jsonFromChild(spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] }), `${backend} run`);
}

const floorText = (run: ClientResult, raw: number) =>
  `${fmt(run.issued / run.seconds)} requests/s = ${fmt(run.issued / run.seconds / raw, 3)} of raw, ${fmt((run.serverCpuSeconds * 1e6) / run.issued)}+${fmt((run.cpuSeconds * 1e6) / run.issued)} µs CPU each (server+client)`;

async function main() {
  const backends = values.db.split(',').map((b) => b.trim()) as ('sqlite' | 'postgres')[];
  if (SEPARATE_INSTANCES && backends.includes('sqlite')) throw new Error('--instances compares separate servers on one PostgreSQL: use --db postgres (one SQLite file has one writer at a time)');
  if (values.child) return child(backends[0]!);
  const results = [];
  for (const backend of backends) results.push(await spawnChild(backend));

  const rows: (string | number)[][] = [['database', 'instances', 'path', 'certificates', 'seconds', 'certs/s', 'raw sign/s', 'ratio to raw', 'p50 ms', 'p99 ms', 'CPU µs/cert server+PostgreSQL+client', 'pre-signing done after s', 'lock wait ms /1000 certs (peak waiters)', 'transactions /cert', 'checked']];
  const ratios: number[] = [];
  for (const r of results) {
    // The higher of the two raw measurements: the ratio is never flattered by a slow moment.
    const raw = Math.max(r.rawBefore, r.rawAfter);
    for (const { path: which, instances, run, check } of r.runs) {
      const [name, unit] = which === 'batch' ? [`factory batch of ${BATCH}`, 'batch'] : [`EST simpleenroll ×${estClients(instances)}`, 'request'];
      const rate = run.issued / run.seconds;
      ratios.push(rate / raw);
      const sorted = [...run.latencies].sort((a, b) => a - b);
      if (run.failures) log(`${r.backend} ${name}: ${run.failures} failures, first: ${run.firstFailure}`);
      if (check.distinct !== check.active || check.verified !== check.sampled) throw new Error(`${r.backend} ${name}: check failed ${JSON.stringify(check)}`);
      rows.push([
        r.backend,
        instances,
        name,
        check.active,
        fmt(run.seconds, 2),
        fmt(rate),
        fmt(raw),
        fmt(rate / raw, 3),
        `${fmt(percentile(sorted, 50), 1)} /${unit}`,
        fmt(percentile(sorted, 99), 1),
        [run.serverCpuSeconds, run.databaseCpuSeconds, run.cpuSeconds].map((seconds, i) => (i === 1 && r.backend === 'sqlite' ? '-' : fmt((seconds * 1e6) / run.issued))).join('+'),
        run.catchUpSeconds === undefined || values['no-presign'] ? '-' : fmt(run.catchUpSeconds, 1),
        run.lockWaitSeconds === undefined ? '-' : `${fmt((run.lockWaitSeconds * 1e6) / run.issued, 1)} (${run.lockWaitPeak})`,
        run.transactions === undefined ? '-' : fmt(run.transactions / run.issued, 2),
        `all parsed, ${check.distinct} distinct serials, openssl verify ${check.verified}/${check.sampled}, audit chain of ${check.auditEntries} intact`,
      ]);
    }
  }
  console.log(table(rows));
  for (const r of results) {
    for (const { path: which, instances, run } of r.runs) {
      if (!run.serverThreads) continue;
      const threads = Object.entries(run.serverThreads).sort((a, b) => b[1] - a[1]);
      console.log(`${r.backend} ${which} at ${instances} instance${instances === 1 ? '' : 's'}: server CPU µs/cert by thread: ${threads.map(([name, seconds]) => `${name} ${fmt((seconds * 1e6) / run.issued)}`).join(', ')}`);
    }
    for (const { path: which, instances, run } of r.runs) {
      if (!run.tables) continue;
      const perCert = (n: number) => fmt(n / run.issued, 2);
      const tables = Object.entries(run.tables).map(([table, counters]) => `${table} ${Object.entries(counters).map(([c, n]) => `${c} ${perCert(n)}`).join(' ')}`);
      console.log(`${r.backend} ${which} at ${instances} instance${instances === 1 ? '' : 's'}: per certificate, by table: ${tables.join('; ')}`);
    }
  }
  for (const r of results) {
    console.log(
      `${r.backend}: raw PKCS#11 ECDSA P-256 signatures/s, one session ${fmt(r.rawBefore)} before / ${fmt(r.rawAfter)} after, two threads ${fmt(r.rawTwoThreads)}; ` +
        `peak RSS server ${fmt(r.serverRssMiB)} MiB, load generator ${fmt(Math.max(...r.runs.map((x) => x.run.maxRssMiB)))} MiB`,
    );
  }
  for (const r of results) {
    const raw = Math.max(r.rawBefore, r.rawAfter);
    // Half the raw rate on two cores leaves 4/raw seconds of CPU per certificate, of which one
    // signature and one CSR check are spoken for.
    const budget = (4 / raw - 1 / raw - 1 / r.csrChecks) * 1e6;
    console.log(
      `${r.backend}: CSR checks ${fmt(r.csrChecks)}/s on one thread; at 0.5 of raw, ${fmt(budget)} µs of CPU per certificate is left beyond its signature and CSR check for TLS, HTTP, database and client` +
        (r.estFloor ? `; EST floor (GET cacerts ×${estClients(INSTANCES[0]!)}, nothing checked, signed or stored) ${floorText(r.estFloor, raw)}` : '') +
        (r.nodeFloor ? `; Node's floor (a bare node:https server, same TLS, clients and answer) ${floorText(r.nodeFloor, raw)}` : ''),
    );
  }
  console.log(`issue/raw-sign: ${Math.min(...ratios).toFixed(3)}`);
  if (INSTANCES.length > 1) {
    // What one certificate costs the machine (server processes + PostgreSQL) at the fewest instances
    // against the most: 1.0 when adding instances costs nothing per certificate. A count measured more
    // than once (`--instances 1,3,3,1`, ABBA, so that a machine whose speed drifts moves both alike) is
    // pooled over its runs.
    const [low, high] = [Math.min(...INSTANCES), Math.max(...INSTANCES)];
    const efficiencies: number[] = [];
    for (const r of results) {
      for (const which of ['batch', 'est'] as const) {
        const at = (n: number) => r.runs.filter((x) => x.path === which && x.instances === n).map((x) => x.run);
        const [a, b] = [at(low), at(high)];
        if (!a.length || !b.length) continue;
        const sum = (runs: ClientResult[], pick: (x: ClientResult) => number) => runs.reduce((total, x) => total + pick(x), 0);
        const cpu = (runs: ClientResult[]) => ((sum(runs, (x) => x.serverCpuSeconds) + sum(runs, (x) => x.databaseCpuSeconds)) * 1e6) / sum(runs, (x) => x.issued);
        const rate = (runs: ClientResult[]) => sum(runs, (x) => x.issued) / sum(runs, (x) => x.seconds);
        efficiencies.push(cpu(a) / cpu(b));
        const each = (runs: ClientResult[]) => (runs.length > 1 ? ` (${runs.map((x) => fmt(((x.serverCpuSeconds + x.databaseCpuSeconds) * 1e6) / x.issued)).join(', ')})` : '');
        console.log(
          `${r.backend} ${which}: ${low} → ${high} instances${which === 'est' ? ` (${estClients(low)} → ${estClients(high)} clients)` : ''}: CPU ${fmt(cpu(a))}${each(a)} → ${fmt(cpu(b))}${each(b)} µs/cert (×${fmt(cpu(b) / cpu(a), 2)}), ${fmt(rate(a))} → ${fmt(rate(b))} certs/s, throughput efficiency ${fmt(rate(b) / (rate(a) * (high / low)), 2)}`,
        );
      }
    }
    if (PATHS.has('est')) console.log(`EST's load: ${estLoad}`);
    console.log(`issue/scale-efficiency: ${Math.min(...efficiencies).toFixed(3)}`);
  }
}

runBench(main);
