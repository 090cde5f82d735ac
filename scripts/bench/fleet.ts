/**
 * Revocation at fleet scale. Fills the store with N certificates by bulk load (not the issuance API),
 * revokes a few percent, starts Hallmark and measures: the time to pre-sign every OCSP response from cold
 * (RFC 5019 pre-produced), memory per million responses held, OCSP responses/s for never-asked
 * certificates (pre-signed) against cached answers (by request bytes) and against a bare node:http server
 * sending a body of the same size, all with wrk in the same run (in alternating rounds; medians), and how long a revocation made elsewhere
 * (another context on the same database, as another instance or the CLI would) takes to be answered;
 * then CRLs with the issuing CA partitioned into `--shards` (RFC 5280 §5.2.5): time, peak RSS and size of
 * the whole CRL and of one shard, each signed in a process of its own (crl-worker.ts).
 * Last line: `fleet/ocsp-cold-over-cached: <ratio>`.
 *
 *   npm run bench:fleet -- [--certs 1000000] [--database sqlite|postgres] [--revoked 3] [--seconds 8] [--rounds 3] [--shards 16]
 *   (PostgreSQL: HALLMARK_TEST_DATABASE_URL or postgres://postgres@127.0.0.1:5432/test; default 10,000,000 there)
 */
import http from 'node:http';
import fs from 'node:fs';
import { execFile } from 'node:child_process';
import YAML from 'yaml';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { AsnConvert } from '@peculiar/asn1-schema';
import { OCSPResponse, BasicOCSPResponse, ResponseData } from '@peculiar/asn1-ocsp';
import { startHallmark } from '../../src/app/server.js';
import { openContext } from '../../src/app/context.js';
import { projectRoot, readEnvironment } from '../../src/config/env.js';
import { crlShardOf } from '../../src/ca/crl-scope.js';
import { revokeCertificate } from '../../src/ca/revoke.js';
import { sql } from '../../src/store/handle.js';
import { countResponses } from '../../src/store/ocsp-responses.js';
import { derSequence } from '../../src/x509/der.js';
import { issuerCertIdHashes, sha1CertId } from '../../src/x509/ocsp.js';
import { benchCa, fmt, median, runBench, spread, table } from './setup.js';
import { profiled } from './cpu-profile.js';
import { runWrk, writePostScript, writePostScriptFromFile, type WrkResult } from './wrk.js';
import { ocspRequest } from './ocsp-request.js';

const { values } = parseArgs({
  options: {
    certs: { type: 'string' },
    database: { type: 'string', default: 'sqlite' },
    revoked: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '8' },
    'cold-bodies': { type: 'string', default: '300000' },
    rounds: { type: 'string', default: '3' },
    shards: { type: 'string', default: '16' },
  },
});
const POSTGRES = values.database === 'postgres';
const CERTS = Number(values.certs ?? (POSTGRES ? 10_000_000 : 1_000_000));
const REVOKED = Number(values.revoked) / 100;
const SECONDS = Number(values.seconds);
const SHARDS = Number(values.shards);
const ROUNDS = Math.max(1, Number(values.rounds));
const log = (line: string) => process.stderr.write(`${line}\n`);
const mib = (bytes: number) => bytes / (1 << 20);
/** Memory after a full collection, and how long that collection paused the process (what a heap of held responses costs it). */
const memory = () => {
  const started = performance.now();
  (globalThis as { gc?: () => void }).gc?.();
  const gcMs = performance.now() - started;
  const m = process.memoryUsage();
  return { rss: m.rss, held: m.heapUsed + m.external, gcMs };
};

/** The answer's certStatus: good, revoked or unknown (or the OCSP error status). */
function statusOf(der: Uint8Array): string {
  const response = AsnConvert.parse(der, OCSPResponse);
  if (response.responseStatus !== 0) return `error ${response.responseStatus}`;
  const basic = AsnConvert.parse(response.responseBytes!.response.buffer, BasicOCSPResponse);
  const data: ResponseData = basic.tbsResponseData;
  const status = data.responses[0]!.certStatus;
  return status.good !== undefined ? 'good' : status.revoked ? 'revoked' : 'unknown';
}

/** The development configuration with the issuing CA's CRL in `shards` shards. */
function shardedConfig(shards: number): string {
  const source = path.join(projectRoot(), 'ca-config', 'hallmark.yaml');
  const config = YAML.parse(fs.readFileSync(source, 'utf8'));
  config.profilesDir = path.join(projectRoot(), 'ca-config', config.profilesDir ?? 'profiles');
  config.cas.find((c: { name: string }) => c.name === 'issuing').crl = { shards, deltas: false };
  const file = path.join(fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'fleet-config-')), 'hallmark.yaml');
  fs.writeFileSync(file, YAML.stringify(config));
  return file;
}

/** One CRL signed by crl-worker.ts in a process of its own: its time, peak RSS, entries and size. */
const signCrlApart = (env: NodeJS.ProcessEnv, shard: number | null) =>
  new Promise<{ ms: number; maxRssMiB: number; baselineRssMiB: number; entries: number; bytes: number }>((resolve, reject) =>
    execFile('node', [path.join(path.dirname(new URL(import.meta.url).pathname), 'crl-worker.js'), 'issuing', ...(shard === null ? [] : [String(shard)])], { env, maxBuffer: 16 << 20 }, (e, stdout, stderr) =>
      e ? reject(new Error(`crl-worker failed: ${stderr}`)) : resolve(JSON.parse(stdout.trim().split('\n').pop()!)),
    ),
  );

async function main() {
  const ca = await benchCa({ databaseUrl: POSTGRES ? (process.env.HALLMARK_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test') : null, configFile: shardedConfig(SHARDS) });
  const db = sql(ca.ctx.store);
  try {
    // The fleet, by bulk load: random 16-byte serials, a year of validity, a few percent revoked.
    log(`loading ${fmt(CERTS)} certificates (${values.revoked}% revoked)…`);
    const now = Date.now();
    const serials: string[] = new Array(CERTS);
    const loadStarted = performance.now();
    const CHUNK = 20_000;
    for (let i = 0; i < CERTS; i += CHUNK) {
      const rows: Record<string, unknown>[] = [];
      for (let j = i; j < Math.min(CERTS, i + CHUNK); j++) {
        const bytes = randomBytes(16);
        bytes[0] = (bytes[0]! & 0x7f) | 0x10;
        const serial = bytes.toString('hex');
        serials[j] = serial;
        const revoked = j % Math.round(1 / REVOKED) === 0;
        rows.push({
          serial,
          issuer: 'issuing',
          profile: 'device',
          identity: `fleet-${j}`,
          subject: `CN=fleet-${j}`,
          status: revoked ? 'revoked' : 'active',
          not_before: now - 86_400_000,
          not_after: now + 365 * 86_400_000,
          key_type: 'ec-p256',
          requested_by: 'bench',
          created_at: now - 3_600_000,
          issued_at: now - 3_600_000,
          revoked_at: revoked ? now - 60_000 : null,
          revocation_reason: revoked ? 'keyCompromise' : null,
          status_changed_at: revoked ? now - 60_000 : null,
          crl_shard: crlShardOf(bytes, SHARDS),
        });
      }
      await db.batchInsert('certificates', rows, POSTGRES ? 1000 : 400);
      if ((i / CHUNK) % 25 === 0) log(`  ${fmt(i + rows.length)}`);
    }
    // Statistics for the planner, as autovacuum would gather them in time: without them PostgreSQL read
    // each 500-row page of the pre-signer's sweep by a parallel scan of all 10 million rows (~5 s a page,
    // 45 responses/s; with them 16 ms). The same holds for any bulk import into a running store.
    if (POSTGRES) await db.raw('ANALYZE certificates');
    const loadSeconds = (performance.now() - loadStarted) / 1000;

    // Pre-signing from cold: everything signed while the server already answers (live meanwhile).
    const before = memory();
    const started = performance.now();
    const running = await startHallmark(ca.ctx, { host: '127.0.0.1', httpsPort: 0, httpPort: 0, log: (line) => log(`  [hallmark] ${line}`) });
    const total = CERTS + 2; // with the internal certificates (responder, HTTPS)
    let analysedAt = 0;
    for (;;) {
      const stored = await countResponses(ca.ctx.store);
      if (stored >= total) break;
      // What autovacuum would do as the table grows (this machine's PostgreSQL runs without it): fresh
      // statistics for ocsp_responses every million rows, or the pre-signer's sweep and the instances'
      // loads fall back to full scans (docs/performance.md, the second 10-million try).
      if (POSTGRES && stored - analysedAt >= 1_000_000) {
        await db.raw('ANALYZE ocsp_responses');
        analysedAt = stored;
        log(`  ANALYZE ocsp_responses at ${fmt(stored)}`);
      }
      log(`  pre-signed ${fmt(stored)} of ${fmt(total)} (${fmt(stored / ((performance.now() - started) / 1000))}/s)`);
      await new Promise((r) => setTimeout(r, 5000));
    }
    const presignSeconds = (performance.now() - started) / 1000;
    while (running.presigned.size() < total) {
      await running.poll();
      await new Promise((r) => setTimeout(r, 200));
    }
    const held = memory();
    const perMillion = ((held.held - before.held) / running.presigned.size()) * 1e6;

    // Requests: never-asked certificates (SHA-1 CertID, no nonce: the pre-signed path), and for the cached
    // path SHA-256 CertIDs (not pre-signed: signed live once, then cached by the request's bytes).
    const issuing = running.issue.issuers.get('issuing').certificate;
    const { name: nameHash, key: keyHash } = issuerCertIdHashes(issuing);
    const request = (serial: string) => derSequence(derSequence(derSequence(derSequence(sha1CertId(nameHash, keyHash, serial)))));
    const coldCount = Math.min(CERTS, Number(values['cold-bodies']));
    const step = Math.max(1, Math.floor(CERTS / coldCount));
    const coldBodies = Array.from({ length: coldCount }, (_, i) => request(serials[(i * step + 1) % CERTS]!));
    const coldScript = path.join(ca.home, 'cold.lua');
    writePostScriptFromFile(coldScript, '/ocsp', 'application/ocsp-request', coldBodies);
    const url = `http://127.0.0.1:${running.http}/ocsp`;
    const post = async (body: Uint8Array) => new Uint8Array(await (await fetch(url, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body })).arrayBuffer());
    const sample = await post(coldBodies[0]!);
    if (statusOf(sample) !== 'good' && statusOf(sample) !== 'revoked') throw new Error(`a never-asked certificate was answered ${statusOf(sample)}`);

    const cachedBodies = serials.slice(0, 1000).map((s) => ocspRequest(issuing, s, undefined, 'sha256'));
    for (const body of cachedBodies) await post(body);
    const cachedScript = path.join(ca.home, 'cached.lua');
    writePostScript(cachedScript, '/ocsp', 'application/ocsp-request', cachedBodies);

    const bare = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/ocsp-response', 'Content-Length': sample.length });
      res.end(sample);
    });
    await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
    const bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}/ocsp`;
    // The three in turn, ROUNDS times: a machine whose speed drifts (two cores shared with wrk) moves them
    // together, and each round's ratio compares neighbours. The medians are reported.
    const rounds: { cold: WrkResult; cached: WrkResult; bare: WrkResult }[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      log(`round ${round} of ${ROUNDS}: wrk, 50 connections, ${SECONDS}s each: never-asked (pre-signed, ${fmt(coldCount)} distinct certificates), cached by request (1,000), bare node:http with the same body…`);
      const cold = await profiled(`fleet-cold-${round}`, () => runWrk(url, coldScript, { connections: 50, seconds: SECONDS }), log);
      const cached = await profiled(`fleet-cached-${round}`, () => runWrk(url, cachedScript, { connections: 50, seconds: SECONDS }), log);
      const bareRate = await runWrk(bareUrl, coldScript, { connections: 50, seconds: SECONDS });
      log(`  never-asked ${fmt(cold.requestsPerSecond)}/s, cached ${fmt(cached.requestsPerSecond)}/s, bare ${fmt(bareRate.requestsPerSecond)}/s`);
      rounds.push({ cold, cached, bare: bareRate });
    }
    await new Promise((resolve) => bare.close(resolve));
    const rates = (pick: (r: (typeof rounds)[number]) => WrkResult) => rounds.map((r) => pick(r).requestsPerSecond);
    const coldRates = rates((r) => r.cold);
    const cachedRates = rates((r) => r.cached);
    const bareRates = rates((r) => r.bare);
    const coldOverCached = median(rounds.map((r) => r.cold.requestsPerSecond / r.cached.requestsPerSecond));
    const coldOverBare = median(rounds.map((r) => r.cold.requestsPerSecond / r.bare.requestsPerSecond));

    // Revocation made elsewhere → answered revoked here, while never-asked requests load the server.
    log('revoking 20 certificates from another context under load…');
    const other = await openContext({ env: readEnvironment(ca.env), withKeys: false, schema: ca.schema });
    const latencies: number[] = [];
    const load = runWrk(url, coldScript, { connections: 50, seconds: 6 });
    try {
      await new Promise((r) => setTimeout(r, 500));
      for (let i = 0; i < 20; i++) {
        const serial = serials[(i * 7919 + 3) % CERTS]!;
        if ((await post(request(serial)).then(statusOf)) !== 'good') continue;
        const at = performance.now();
        await revokeCertificate({ store: other.store, audit: other.audit, clock: other.clock, listeners: [] }, { serial, reason: 'keyCompromise', actor: 'bench' });
        while ((await post(request(serial)).then(statusOf)) !== 'revoked') await new Promise((r) => setTimeout(r, 10));
        latencies.push(performance.now() - at);
      }
    } finally {
      await load;
      await other.close();
    }
    latencies.sort((a, b) => a - b);
    const crl = new Uint8Array(await (await fetch(`http://127.0.0.1:${running.http}/crl/issuing.crl`)).arrayBuffer());
    log('CRLs: the whole one and shard 0, each signed in a process of its own…');
    const workerEnv = { ...ca.env, BENCH_SCHEMA: ca.schema ?? '' };
    const wholeCrl = await signCrlApart(workerEnv, null);
    const shardCrl = SHARDS ? await signCrlApart(workerEnv, 0) : undefined;
    const crlRow = (c: { ms: number; maxRssMiB: number; baselineRssMiB: number; entries: number; bytes: number }) => `${fmt(c.entries)} entries, ${fmt(mib(c.bytes), 2)} MiB, ${fmt(c.ms / 1000, 2)} s, peak RSS ${fmt(c.maxRssMiB)} MiB (${fmt(c.baselineRssMiB)} before signing)`;

    console.log(
      table([
        ['', 'value'],
        [`database`, POSTGRES ? 'PostgreSQL' : 'SQLite'],
        [`certificates (bulk load s)`, `${fmt(CERTS)} (${fmt(loadSeconds, 1)} s)`],
        [`revoked`, fmt(Math.ceil(CERTS * REVOKED))],
        [`pre-sign from cold, s`, fmt(presignSeconds, 1)],
        [`pre-sign rate, responses/s`, fmt(total / presignSeconds)],
        [`memory per million pre-signed responses, MiB`, fmt(mib(perMillion))],
        [`RSS with all held, MiB`, fmt(mib(held.rss))],
        [`full garbage collection with all held, ms`, fmt(held.gcMs)],
        [`OCSP never-asked (pre-signed), req/s, median of ${ROUNDS}`, `${fmt(median(coldRates))}${spread(coldRates)} (p99 ${fmt(median(rounds.map((r) => r.cold.p99ms)), 2)} ms)`],
        [`OCSP cached by request, req/s`, `${fmt(median(cachedRates))}${spread(cachedRates)} (p99 ${fmt(median(rounds.map((r) => r.cached.p99ms)), 2)} ms)`],
        [`bare node:http, same body, req/s`, `${fmt(median(bareRates))}${spread(bareRates)}`],
        [`revocation elsewhere → answered revoked, ms (p50 / max of ${latencies.length})`, `${fmt(latencies[Math.floor(latencies.length / 2)] ?? NaN)} / ${fmt(latencies[latencies.length - 1] ?? NaN)}`],
        [`CRL served (whole), MiB`, fmt(mib(crl.length), 2)],
        [`CRL whole: signed apart`, crlRow(wholeCrl)],
        ...(shardCrl ? [[`CRL one shard of ${SHARDS}: signed apart`, crlRow(shardCrl)]] : []),
      ]),
    );
    console.log(`fleet/cold-over-bare: ${coldOverBare.toFixed(2)} (median of the rounds' ratios)`);
    console.log(`fleet/ocsp-cold-over-cached: ${coldOverCached.toFixed(2)}`);
    await running.close();
  } finally {
    await ca.cleanup();
  }
}

runBench(main);
