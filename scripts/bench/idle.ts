/**
 * What one idle `hallmark serve` instance costs: its CPU by thread and the database's transactions a
 * second over a quiet interval after start-up (the per-instance baseline that issue 30's
 * scale-out pays once per instance).
 *
 *   node dist/scripts/bench/idle.js [--seconds 20] [--settle 6]
 */
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { benchCa, fmt, runBench } from './setup.js';
import { instanceServers } from './bench-server.js';
import { sql } from '../../src/store/handle.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '20' }, settle: { type: 'string', default: '6' } } });

runBench(async () => {
  const bench = await benchCa({ databaseUrl: process.env.DATABASE_URL || process.env.HALLMARK_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test' });
  try {
    const server = await instanceServers(bench, 1, bench.schema);
    try {
      await sleep(Number(values.settle) * 1000);
      const db = sql(bench.ctx.store);
      const xacts = async () => Number(((await db.raw('SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()')).rows as { n: string }[])[0]!.n);
      const threads0 = server.threadCpuSeconds!();
      const x0 = await xacts();
      const seconds = Number(values.seconds);
      await sleep(seconds * 1000);
      const x1 = await xacts();
      const threads1 = server.threadCpuSeconds!();
      for (const [name, s] of threads1) console.log(`${name.padEnd(16)} ${fmt(((s - (threads0.get(name) ?? 0)) / seconds) * 1000, 2)} ms CPU/s`);
      // The two reads of the counter are this bench's own transactions: left out.
      console.log(`PostgreSQL transactions/s (whole database, but for this bench's two reads): ${fmt((x1 - x0 - 2) / seconds, 1)}`);
    } finally {
      await server.close();
    }
  } finally {
    await bench.cleanup();
  }
});
