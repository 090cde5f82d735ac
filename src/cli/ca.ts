import fs from 'node:fs';
import { openContext, type AppContext } from '../context.js';
import { HallmarkError } from '../errors.js';
import { toPem } from '../x509/pem.js';
import type { CaRow } from '../store/cas.js';
import { note, printJson, printTable } from './output.js';
import { usageError } from './usage-error.js';
import { caView } from '../ca/ca-view.js';

async function requireCa(ctx: AppContext, name: string | undefined): Promise<CaRow> {
  if (!name) throw usageError('name the CA, e.g. `hallmark ca show issuing` (see `hallmark ca list`)');
  const row = await ctx.cas.get(name);
  if (!row) throw new HallmarkError('unknown_ca', `no CA named "${name}"; see \`hallmark ca list\``, 404);
  return row;
}

export async function caCommand(verb: string | undefined, args: string[], flags: { json: boolean; chain: boolean; out?: string }): Promise<void> {
  const ctx = await openContext({ withKeys: false });
  try {
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
      const certs: CaRow[] = [row];
      // --chain: this CA and its ancestors, up to and including the root, for trust stores.
      while (flags.chain && certs.at(-1)!.parent) certs.push(all.find((c) => c.name === certs.at(-1)!.parent)!);
      const pem = certs.map((c) => toPem(c.certificate, 'CERTIFICATE')).join('');
      if (flags.out) fs.writeFileSync(flags.out, pem);
      else process.stdout.write(pem);
    } else throw usageError('usage: hallmark ca list | ca show <ca> | ca export <ca> [--chain] [--out <file>]');
  } finally {
    await ctx.close();
  }
}
