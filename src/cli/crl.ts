import fs from 'node:fs';
import os from 'node:os';
import { issuingDeps } from '../app/context.js';
import { generateCrl } from '../ca/crl.js';
import { createCrlStore } from '../store/crls.js';
import { toPem } from '../x509/pem.js';
import { note, printJson } from './output.js';
import { usageError } from './usage-error.js';
import { withContext } from './with-context.js';

export interface CrlFlags {
  json: boolean;
  ca?: string;
  out?: string;
}

/** Signs a new CRL now (for one CA or all); `--out` writes it (PEM for *.pem, DER otherwise). */
export async function crlCommand(verb: string | undefined, flags: CrlFlags): Promise<void> {
  if (verb !== 'generate') throw usageError('usage: hallmark crl generate [--ca <ca>] [--out <file>]');
  await withContext({ withKeys: true }, async (ctx) => {
    const issue = await issuingDeps(ctx);
    const names = flags.ca ? [issue.issuers.exact(flags.ca).name] : issue.issuers.list().map((i) => i.name);
    if (flags.out && names.length !== 1) throw usageError('--out needs --ca: one file holds one CRL');
    const deps = { issuers: issue.issuers, crls: createCrlStore(ctx.store), audit: ctx.audit, clock: ctx.clock, config: ctx.config.revocation.crl };
    const results = [];
    for (const name of names) {
      if (!flags.json) note(`signing the CRL of ${name}…`);
      const row = await generateCrl(deps, name, `cli:${os.userInfo().username}`);
      if (flags.out) fs.writeFileSync(flags.out, flags.out.endsWith('.pem') ? toPem(row.der, 'X509 CRL') : row.der);
      results.push({ ca: name, number: row.number, entries: row.entries, bytes: row.der.length, thisUpdate: new Date(Number(row.this_update)).toISOString(), nextUpdate: new Date(Number(row.next_update)).toISOString() });
    }
    if (flags.json) printJson(results);
    else for (const r of results) process.stdout.write(`CRL ${r.ca} #${r.number}: ${r.entries} entries, ${r.bytes} bytes, next update ${r.nextUpdate}\n`);
  });
}
