/**
 * One CRL generation in a process of its own, so that its peak memory can be read: prints
 * {"ms", "maxRssMiB", "baselineRssMiB", "entries", "bytes"}. Environment as for `hallmark`.
 */
import { openContext, issuingDeps } from '../../src/app/context.js';
import { generateCrl } from '../../src/ca/crl.js';
import { createCrlStore } from '../../src/store/crls.js';

const ctx = await openContext({ withKeys: true, schema: process.env.BENCH_SCHEMA || undefined });
const issue = await issuingDeps(ctx);
const baselineRssMiB = process.resourceUsage().maxRSS / 1024;
const started = performance.now();
const row = await generateCrl(
  { issuers: issue.issuers, crls: createCrlStore(ctx.store), audit: ctx.audit, clock: ctx.clock, config: ctx.config.revocation.crl },
  process.argv[2] ?? 'issuing',
  'bench',
);
const ms = performance.now() - started;
console.log(JSON.stringify({ ms, maxRssMiB: process.resourceUsage().maxRSS / 1024, baselineRssMiB, entries: row.entries, bytes: row.der.length }));
await ctx.close();
