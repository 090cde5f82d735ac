import fs from 'node:fs';
import os from 'node:os';
import { crlDeps, issuingDeps } from '../app/context.js';
import { generateCrl, scopesOfCa } from '../ca/crl.js';
import { scopeName, type CrlScope } from '../ca/crl-scope.js';
import { toPem } from '../x509/pem.js';
import { note, printJson } from './output.js';
import { usageError } from './usage-error.js';
import { withContext } from './with-context.js';

export interface CrlFlags {
  json: boolean;
  ca?: string;
  shard?: string;
  delta?: boolean;
  out?: string;
}

const USAGE = 'usage: hallmark crl generate [--ca <ca>] [--shard <n>] [--delta] [--out <file>]';

/**
 * Signs new CRLs now: for each CA (or one), the whole CRL and every shard (or one), complete or
 * delta; `--out` writes the one signed (PEM for *.pem, DER otherwise).
 */
export async function crlCommand(verb: string | undefined, flags: CrlFlags): Promise<void> {
  if (verb !== 'generate') throw usageError(USAGE);
  const shard = flags.shard === undefined ? undefined : Number(flags.shard);
  if (shard !== undefined && !(Number.isInteger(shard) && shard >= 0)) throw usageError(`--shard: "${flags.shard}" is not a shard number (0, 1, …); ${USAGE}`);
  if (shard !== undefined && !flags.ca) throw usageError('--shard needs --ca: shards are numbered per CA');
  if (flags.out && !flags.ca) throw usageError('--out needs --ca: one file holds one CRL (add --shard for a shard; the whole CRL otherwise)');
  await withContext({ withKeys: true }, async (ctx) => {
    const issue = await issuingDeps(ctx);
    const deps = crlDeps(ctx, issue.issuers);
    const names = flags.ca ? [issue.issuers.exact(flags.ca).name] : issue.issuers.list().map((i) => i.name);
    const scopes: CrlScope[] = [];
    for (const ca of names) {
      if (flags.out || shard !== undefined) scopes.push({ ca, shard: shard ?? null });
      else scopes.push(...(await scopesOfCa(deps, ca)));
    }
    const kind = flags.delta ? 'delta' : 'complete';
    const results = [];
    for (const scope of scopes) {
      if (!flags.json) note(`signing the ${kind} CRL of ${scopeName(scope)}…`);
      const row = await generateCrl(deps, scope, `cli:${os.userInfo().username}`, kind);
      if (flags.out) fs.writeFileSync(flags.out, flags.out.endsWith('.pem') ? toPem(row.der, 'X509 CRL') : row.der);
      results.push({
        ca: scope.ca,
        shard: scope.shard,
        kind,
        number: row.number,
        ...(row.base_number === null ? {} : { base: Number(row.base_number) }),
        entries: row.entries,
        bytes: row.der.length,
        thisUpdate: new Date(Number(row.this_update)).toISOString(),
        nextUpdate: new Date(Number(row.next_update)).toISOString(),
      });
    }
    if (flags.json) printJson(results);
    else for (const r of results) process.stdout.write(`CRL ${scopeName(r)}${r.kind === 'delta' ? ` delta on #${r.base}` : ''} #${r.number}: ${r.entries} entries, ${r.bytes} bytes, next update ${r.nextUpdate}\n`);
  });
}
