/**
 * The server under test for scripts/bench/issue: in this process (`startHallmark`), or as
 * `hallmark serve --workers <n>` (a primary and n worker processes on the same data directory, token
 * and database), with the CPU it uses read the same way for both.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { projectRoot } from '../../src/config/env.js';
import { issuingDeps } from '../../src/app/context.js';
import type { IssueDeps } from '../../src/ca/issue.js';
import { startHallmark } from '../../src/app/server.js';
import type { BenchCa } from './setup.js';
import { peakRssKiB, processCpuSeconds, readProcStat, threadCpuByName } from './proc-stat.js';

export interface BenchServer {
  https: number;
  /** Every instance's HTTPS port (one, unless separate instances were started). */
  ports: number[];
  issue: IssueDeps;
  /** CPU seconds the server has used so far (every thread of every process it runs in). */
  cpuSeconds(): number;
  /** Separate processes only: CPU seconds so far by thread name, summed over the processes (where the time goes). */
  threadCpuSeconds?(): Map<string, number>;
  peakRssMiB(): number;
  close(): Promise<void>;
}

export async function inProcessServer(bench: BenchCa): Promise<BenchServer> {
  const running = await startHallmark(bench.ctx, { host: '127.0.0.1', httpsPort: 0, httpPort: 0, log: () => {} });
  return {
    https: running.https,
    ports: [running.https],
    issue: running.issue,
    cpuSeconds: processCpuSeconds,
    peakRssMiB: () => peakRssKiB() / 1024,
    close: () => running.close(),
  };
}

const childrenOf = (pid: number): number[] => {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
};

/** The bench's environment for a `hallmark serve` process: a PostgreSQL schema through libpq's `options`. */
function serveEnv(bench: BenchCa, schema?: string): NodeJS.ProcessEnv {
  const env = { ...bench.env };
  if (schema && env.DATABASE_URL) {
    const url = new URL(env.DATABASE_URL);
    url.searchParams.set('options', `-c search_path=${schema}`);
    env.DATABASE_URL = url.toString();
  }
  return { ...env, HALLMARK_LOG_LEVEL: 'warn' };
}

/** Starts `hallmark serve <args>` and resolves when it says it is ready. */
async function startServe(bench: BenchCa, args: string[], schema?: string) {
  const cli = path.join(projectRoot(), 'bin', 'hallmark.js');
  // HALLMARK_BENCH_SERVE_PROFILE=<dir>: each serve process writes a V8 CPU profile there when it exits
  // (its whole life, start-up included; figures from such a run are not for the tables).
  const profileDir = process.env.HALLMARK_BENCH_SERVE_PROFILE;
  const profiling = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  // HALLMARK_BENCH_SERVE_NODE_ARGS: Node or V8 flags for each serve process (e.g. --single-threaded-gc),
  // to measure what a runtime setting changes.
  const nodeArgs = (process.env.HALLMARK_BENCH_SERVE_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, ...profiling, cli, 'serve', ...args, '--https-port', '0', '--http-port', '0', '--host', '127.0.0.1', '--json'], { env: serveEnv(bench, schema), stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = await new Promise<{ https: number }>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`hallmark serve ${args.join(' ')} exited with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const message = JSON.parse(line) as { ready?: { https: number } };
      if (message.ready) resolve(message.ready);
    });
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  return { child, https: ready.https, stop };
}

/** A set of server processes seen as one: CPU and peak memory summed over them and their children. */
async function processes(bench: BenchCa, started: Awaited<ReturnType<typeof startServe>>[]): Promise<BenchServer> {
  const pids = () => started.flatMap((s) => [s.child.pid!, ...childrenOf(s.child.pid!)]);
  return {
    https: started[0]!.https,
    ports: started.map((s) => s.https),
    issue: await issuingDeps(bench.ctx),
    cpuSeconds: () => pids().reduce((sum, pid) => sum + (readProcStat(`/proc/${pid}/stat`)?.cpuSeconds ?? 0), 0),
    threadCpuSeconds: () => {
      const byName = new Map<string, number>();
      for (const pid of pids()) for (const [name, seconds] of threadCpuByName(pid)) byName.set(name, (byName.get(name) ?? 0) + seconds);
      return byName;
    },
    peakRssMiB: () => pids().reduce((sum, pid) => sum + peakRssKiB(pid), 0) / 1024,
    close: async () => void (await Promise.all(started.map((s) => s.stop()))),
  };
}

/** `hallmark serve --workers <workers>` on the bench's data directory, token and database. */
export async function clusterServer(bench: BenchCa, workers: number, schema?: string): Promise<BenchServer> {
  return processes(bench, [await startServe(bench, ['--workers', String(workers)], schema)]);
}

/**
 * `instances` separate `hallmark serve` processes on one PostgreSQL, as stateless instances behind a
 * load balancer would run (the bench's clients spread over their ports). They share the data directory:
 * the first one started writes the HTTPS certificate, the others read it.
 */
export async function instanceServers(bench: BenchCa, instances: number, schema?: string): Promise<BenchServer> {
  const started = [await startServe(bench, [], schema)];
  try {
    started.push(...(await Promise.all(Array.from({ length: instances - 1 }, () => startServe(bench, [], schema)))));
  } catch (e) {
    await Promise.all(started.map((s) => s.stop()));
    throw e;
  }
  return processes(bench, started);
}
