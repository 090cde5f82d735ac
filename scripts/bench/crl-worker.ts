/**
 * One CRL generation in a process of its own, so that its peak memory can be read: prints
 * {"ms", "maxRssMiB", "baselineRssMiB", "entries", "bytes"}. Environment as for `hallmark`.
 */
import { crlDeps, openContext, issuingDeps } from '../../src/app/context.js';
import { generateCrl } from '../../src/ca/crl.js';
import { peakRssKiB } from './proc-stat.js';

const ctx = await openContext({ withKeys: true, schema: process.env.BENCH_SCHEMA || undefined });
const issue = await issuingDeps(ctx);
const baselineRssMiB = peakRssKiB() / 1024;
const started = performance.now();
// argv: the CA, and a shard number for one shard of a partitioned CRL (the whole CRL otherwise).
const shard = process.argv[3] === undefined ? null : Number(process.argv[3]);
const row = await generateCrl(crlDeps(ctx, issue.issuers), { ca: process.argv[2] ?? 'issuing', shard }, 'bench');
const ms = performance.now() - started;
console.log(JSON.stringify({ ms, maxRssMiB: peakRssKiB() / 1024, baselineRssMiB, entries: row.entries, bytes: row.der.length }));
await ctx.close();
