import { sql } from '../../src/store/handle.js';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readEnvironment, projectRoot } from '../../src/config/env.js';
import { openContext, type AppContext } from '../../src/app/context.js';
import { initializeCa } from '../../src/ca/init.js';
import type { Signer } from '../../src/keys/key-store.js';

export interface BenchCa {
  home: string;
  ctx: AppContext;
  env: NodeJS.ProcessEnv;
  adminKey: string;
  /** The PostgreSQL schema the bench works in (undefined on SQLite). */
  schema?: string;
  cleanup(): Promise<void>;
}

/** A throwaway data directory, dev token and initialised CA (SQLite, or DATABASE_URL when set). */
export async function benchCa(options: { configFile?: string; databaseUrl?: string | null } = {}): Promise<BenchCa> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'hallmark-bench-'));
  const env: NodeJS.ProcessEnv = { ...process.env, HALLMARK_HOME: home, HALLMARK_PKCS11_TOKEN: 'bench' };
  delete env.HALLMARK_PKCS11_PIN;
  if (options.configFile) env.HALLMARK_CONFIG = options.configFile;
  if (options.databaseUrl !== undefined) {
    if (options.databaseUrl) env.DATABASE_URL = options.databaseUrl;
    else delete env.DATABASE_URL;
  }
  execFileSync('bash', [path.join(projectRoot(), 'scripts', 'dev-token.sh')], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  env.SOFTHSM2_CONF = path.join(home, 'softhsm2.conf');
  env.HALLMARK_PKCS11_PIN_FILE = path.join(home, 'hsm', 'user.pin');
  const schema = env.DATABASE_URL ? `bench_${process.pid}_${Date.now()}` : undefined;
  const ctx = await openContext({ env: readEnvironment(env), withKeys: true, create: true, schema });
  const init = await initializeCa({ store: ctx.store, keys: ctx.keys!, cas: ctx.cas, audit: ctx.audit, clock: ctx.clock, config: ctx.config, tokenLabel: 'bench' });
  return {
    home,
    ctx,
    env,
    adminKey: init.admin.apiKey,
    schema,
    async cleanup() {
      if (schema) await sql(ctx.store).raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
      await ctx.close();
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}

/** Raw PKCS#11 ECDSA signatures per second through the same key store, `inflight` at a time. */
export async function rawSignRate(signer: Signer, seconds = 3, inflight = 32): Promise<number> {
  const digest = new Uint8Array(32).fill(7);
  let count = 0;
  const deadline = Date.now() + seconds * 1000;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (Date.now() < deadline) {
        await signer.signDigest(digest);
        count++;
      }
    }),
  );
  return count / ((Date.now() - started) / 1000);
}

export const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** The middle value (the upper of the two middle ones for an even count). */
export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** ` (lowest–highest)` of several rounds' values, nothing for one. */
export const spread = (values: number[]) => (values.length > 1 ? ` (${fmt(Math.min(...values))}–${fmt(Math.max(...values))})` : '');

export function table(rows: (string | number)[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]!) : String(c).padStart(widths[i]!))).join('  ')).join('\n');
}

/** Runs a benchmark's main and exits with its outcome (open handles must not keep it alive). */
export function runBench(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
