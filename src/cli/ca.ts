import fs from 'node:fs';
import type { AppContext } from '../app/context.js';
import { HallmarkError } from '../base/errors.js';
import { toPem } from '../x509/pem.js';
import type { CaRow } from '../store/cas.js';
import { note, printJson, printTable } from './output.js';
import { usageError } from './usage-error.js';
import { caView } from '../ca/ca-view.js';
import os from 'node:os';
import { issuingDeps } from '../app/context.js';
import { rolloverCa } from '../ca/rollover.js';
import { reissueFrom, revokeCa } from '../ca/compromise.js';
import { countToReissue } from '../store/certificates.js';
import { parseReason } from '../x509/revocation-reasons.js';
import { progress } from './progress.js';
import { withContext } from './with-context.js';

async function requireCa(ctx: AppContext, name: string | undefined): Promise<CaRow> {
  if (!name) throw usageError('name the CA, e.g. `hallmark ca show issuing` (see `hallmark ca list`)');
  const row = await ctx.cas.get(name);
  if (!row) throw new HallmarkError('unknown_ca', `no CA named "${name}"; see \`hallmark ca list\``, 404);
  return row;
}

async function rollover(args: string[], flags: { json: boolean; at?: string }): Promise<void> {
  const family = args[0];
  if (!family) throw usageError('usage: hallmark ca rollover <ca> [--at <ISO 8601 time new certificates move to it>]');
  const activeFrom = flags.at ? new Date(flags.at) : undefined;
  if (activeFrom && Number.isNaN(activeFrom.getTime())) throw usageError(`--at takes an ISO 8601 time, got "${flags.at}"`);
  await withContext({ withKeys: true }, async (ctx) => {
    const issue = await issuingDeps(ctx);
    const result = await rolloverCa(
      { store: ctx.store, keys: ctx.keys!, cas: ctx.cas, audit: ctx.audit, clock: ctx.clock, config: ctx.config, tokenLabel: ctx.env.tokenLabel, issuers: issue.issuers },
      family,
      { activeFrom, actor: `cli:${os.userInfo().username}` },
    );
    if (flags.json) printJson(result);
    else
      process.stdout.write(
        `CA ${result.name} (${result.subject}) issues for "${family}" from ${result.activeFrom.toISOString()}, valid until ${result.notAfter.toISOString()}.\n` +
          `Older generations keep their CRL and OCSP until their last certificate expires; running instances pick it up within seconds.\n`,
      );
  });
}

/** The compromise drill: `ca revoke <ca> --reason keyCompromise`, then `ca reissue <ca>` (resumable, with progress). */
async function compromise(verb: 'revoke' | 'reissue', args: string[], flags: { json: boolean; reason?: string }): Promise<void> {
  const name = args[0];
  if (!name || (verb === 'revoke' && !flags.reason)) throw usageError('usage: hallmark ca revoke <ca> --reason <keyCompromise|cACompromise|…> | ca reissue <ca>');
  const reason = verb === 'revoke' ? parseReason(flags.reason!) : undefined;
  if (verb === 'revoke' && !reason) throw usageError(`unknown reason "${flags.reason}"`);
  await withContext({ withKeys: true }, async (ctx) => {
    const issue = await issuingDeps(ctx);
    const revocation = { store: ctx.store, audit: ctx.audit, clock: ctx.clock, listeners: [] };
    const actor = `cli:${os.userInfo().username}`;
    if (verb === 'revoke') {
      const result = await revokeCa(issue, revocation, name, reason!, actor);
      const due = await countToReissue(ctx.store, name, ctx.clock.now().getTime());
      if (flags.json) printJson({ ...result, certificatesToReissue: due });
      else process.stdout.write(`${name} revoked (${reason}); ${result.successor} issues for "${result.family}". ${due} certificate(s) to re-issue: run \`hallmark ca reissue ${name}\`\n`);
    } else {
      let bar: ReturnType<typeof progress> | undefined;
      const result = await reissueFrom(issue, revocation, name, actor, (done, total) => {
        bar ??= progress(total, 'reissuing', flags.json);
        bar.tick(done);
      });
      if (flags.json) printJson(result);
      else process.stdout.write(`${result.reissued} of ${result.total} certificate(s) re-issued from ${name}'s successor; ${result.failed.length} failed${result.failed.length ? ' (run again to retry)' : ''}\n`);
      if (result.failed.length) throw new HallmarkError('partial', `${result.failed.length} certificate(s) could not be re-issued: ${result.failed[0]!.error}`, 1);
    }
  });
}

export async function caCommand(verb: string | undefined, args: string[], flags: { json: boolean; chain: boolean; out?: string; at?: string; reason?: string }): Promise<void> {
  if (verb === 'rollover') return rollover(args, flags);
  if (verb === 'revoke' || verb === 'reissue') return compromise(verb, args, flags);
  await withContext({ withKeys: false }, async (ctx) => {
    if (verb === 'list') {
      const rows = (await ctx.cas.list()).map((row) => caView(row));
      if (flags.json) printJson(rows);
      else if (!rows.length) note('no CA yet: run `hallmark init`');
      else printTable(rows, ['name', 'parent', 'subject', 'keyType', 'notAfter', 'status']);
    } else if (verb === 'show') {
      const row = caView(await requireCa(ctx, args[0]));
      if (flags.json) printJson(row);
      else for (const [k, v] of Object.entries(row)) process.stdout.write(`${k.padEnd(19)} ${v ?? '-'}\n`);
    } else if (verb === 'export') {
      const row = await requireCa(ctx, args[0]);
      const all = await ctx.cas.list();
      // A family name exports its current set: every generation not retired, newest first.
      const generations = all.filter((c) => (c.family ?? c.name) === row.name && c.retired_at === null).sort((a, b) => Number(b.active_from ?? 0) - Number(a.active_from ?? 0));
      const certs: CaRow[] = generations.length ? [...generations] : [row];
      // --chain: with their ancestors, up to and including the root, for trust stores.
      for (let i = 0; flags.chain && i < certs.length; i++) {
        const parent = all.find((c) => c.name === certs[i]!.parent);
        if (parent && !certs.includes(parent)) certs.push(parent);
      }
      const pem = certs.map((c) => toPem(c.certificate, 'CERTIFICATE')).join('');
      if (flags.out) fs.writeFileSync(flags.out, pem);
      else process.stdout.write(pem);
    } else throw usageError('usage: hallmark ca list | ca show <ca> | ca export <ca> [--chain] [--out <file>] | ca rollover <ca> [--at <time>] | ca revoke <ca> --reason <r> | ca reissue <ca>');
  });
}
