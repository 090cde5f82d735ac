import fs from 'node:fs';
import os from 'node:os';
import { verifyAuditChain } from '../audit/verify.js';
import { auditSigner, writeCheckpoint } from '../audit/checkpoint.js';
import { auditEntryView } from '../audit/view.js';
import { auditPage } from '../store/audit.js';
import { HallmarkError } from '../base/errors.js';
import { note, printJson } from './output.js';
import { usageError } from './usage-error.js';
import { withContext } from './with-context.js';

export interface AuditFlags {
  json: boolean;
  out?: string;
}

const hasPin = () => Boolean(process.env.HALLMARK_PKCS11_PIN || process.env.HALLMARK_PKCS11_PIN_FILE);

export async function auditCommand(verb: string | undefined, flags: AuditFlags): Promise<void> {
  if (verb === 'verify') {
    // With the PIN, checkpoint signatures are checked against the audit key on the token.
    await withContext({ withKeys: hasPin() }, async (ctx) => {
      const signer = ctx.keys ? await auditSigner(ctx.keys, ctx.env.tokenLabel) : undefined;
      // What waits in audit_pending is chained first: the verification covers every entry appended so far.
      await ctx.audit.sequence();
      const result = await verifyAuditChain(ctx.store, signer);
      if (flags.json) printJson(result);
      else {
        process.stdout.write(`${result.entries} entries${result.pending.count ? ` (and ${result.pending.count} appended since, not yet chained)` : ''}; checkpoints: ${result.checkpoints.verified} verified, ${result.checkpoints.failed} failed, ${result.checkpoints.skipped} not checked${signer ? '' : ' (no PIN: signatures not checked)'}\n`);
        for (const problem of result.problems) process.stdout.write(`  ✗ ${problem}\n`);
        if (result.ok) process.stdout.write('audit log intact\n');
      }
      if (!result.ok) throw new HallmarkError('audit_broken', `audit log verification failed: ${result.problems.length} problem(s)`, 1);
    });
  } else if (verb === 'export') {
    await withContext({ withKeys: false }, async (ctx) => {
      await ctx.audit.sequence();
      const out = flags.out ? fs.createWriteStream(flags.out) : process.stdout;
      let count = 0;
      for (let after = 0; ; ) {
        const rows = await auditPage(ctx.store, after, 5000);
        if (!rows.length) break;
        for (const row of rows) out.write(JSON.stringify(auditEntryView(row)) + '\n');
        after = Number(rows.at(-1)!.seq);
        count += rows.length;
        if (flags.out) note(`exported ${count} entries`);
      }
      if (flags.out) await new Promise((r) => (out as fs.WriteStream).end(r));
    });
  } else if (verb === 'checkpoint') {
    await withContext({ withKeys: true }, async (ctx) => {
      await ctx.audit.sequence();
      const row = await writeCheckpoint(ctx.store, await auditSigner(ctx.keys!, ctx.env.tokenLabel), ctx.env.tokenLabel, ctx.clock);
      if (row) await ctx.audit.record({ actor: `cli:${os.userInfo().username}`, action: 'audit.checkpoint', target: String(row.seq), outcome: 'success', source: 'cli' });
      const view = row ? { seq: Number(row.seq), hash: row.hash, at: new Date(Number(row.at)).toISOString() } : { unchanged: true };
      if (flags.json) printJson(view);
      else process.stdout.write(row ? `checkpoint signed at entry ${view.seq}\n` : 'the head is already checkpointed\n');
    });
  } else throw usageError('usage: hallmark audit verify | audit export [--out <file>] | audit checkpoint');
}
