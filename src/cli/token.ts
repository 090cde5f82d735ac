import fs from 'node:fs';
import os from 'node:os';
import { listEnrollmentTokens, type EnrollmentTokenState } from '../store/credentials.js';
import { createTokens, deviceIdProblem, lotDeviceIds, MAX_LOT, revokeTokens, TOKEN_COLUMNS, TOKEN_STATES, tokenView } from '../auth/enrollment-token-admin.js';
import { csvTable } from '../base/csv.js';
import type { AppContext } from '../app/context.js';
import { printJson, printTable } from './output.js';
import { parseDuration, parseLimit, usageError } from './usage-error.js';
import { withContext } from './with-context.js';
import { SECRETS_KEY } from '../keys/key-store.js';

export interface TokenFlags {
  json: boolean;
  device?: string;
  label?: string;
  expires?: string;
  lot?: string;
  count?: string;
  format?: string;
  out?: string;
  status?: string;
  limit?: string;
  cmp?: boolean;
}

const actor = () => `cli:${os.userInfo().username}`;

async function create(ctx: AppContext, flags: TokenFlags): Promise<void> {
  if (Boolean(flags.device) === Boolean(flags.lot)) throw usageError('name one device (--device <id>) or a production lot (--lot <lot> --count <n>)');
  const count = flags.lot ? Number(flags.count) : 1;
  if (flags.lot && !(Number.isInteger(count) && count >= 1 && count <= MAX_LOT)) throw usageError(`--lot needs --count <n>, 1 to ${MAX_LOT}`);
  if (!flags.lot && flags.count) throw usageError('--count goes with --lot');
  const format = flags.format ?? (flags.lot ? 'csv' : 'text');
  if (flags.lot && format !== 'csv' && format !== 'jsonl') throw usageError('--format is csv or jsonl');
  const problem = deviceIdProblem(ctx.config, flags.label, flags.lot ? lotDeviceIds(flags.lot, count) : [flags.device!], flags.cmp ? 'CMP' : 'EST');
  if (problem) throw usageError(problem);
  const now = ctx.clock.now();
  const expiresAt = new Date(now.getTime() + (flags.expires ? parseDuration(flags.expires) : ctx.config.est.tokenExpiryHours * 3_600_000));
  const sealer = flags.cmp ? await ctx.keys!.getSealer({ token: ctx.env.tokenLabel, object: SECRETS_KEY }) : undefined;
  const made = await createTokens({ ...ctx, sealer }, { device: flags.device, lot: flags.lot, count, label: flags.label, expiresAt, actor: actor(), source: 'cli', now, cmp: flags.cmp });
  if (!flags.lot) {
    if (flags.json) printJson({ ...made.tokens[0], lot: null });
    else if (flags.cmp) process.stdout.write(`CMP secret for ${flags.device} (one use, until ${made.expiresAt}), shown once:\n\n    ${made.tokens[0]!.secret}\n\nThe device enrolls with openssl cmp -cmd ir -server https://<host>:8443/.well-known/cmp${flags.label && flags.label !== 'default' ? `/p/${flags.label}` : ''} -ref ${flags.device} -secret pass:<secret> …\n`);
    else process.stdout.write(`enrollment secret for ${flags.device} (one use, until ${made.expiresAt}), shown once:\n\n    ${made.tokens[0]!.secret}\n\nThe device enrolls with HTTP Basic ${flags.device}:<secret> at /.well-known/est/${flags.label && flags.label !== 'default' ? `${flags.label}/` : ''}simpleenroll\n`);
    return;
  }
  const text = format === 'csv' ? csvTable(TOKEN_COLUMNS, made.tokens) : made.tokens.map((r) => JSON.stringify(r) + '\n').join('');
  // The secrets are shown once: a file of them is the owner's alone.
  if (flags.out) fs.writeFileSync(flags.out, text, { mode: 0o600 });
  else process.stdout.write(text);
  process.stderr.write(`${count} secrets for lot ${flags.lot} (one use each, until ${made.expiresAt})${flags.out ? ` → ${flags.out}` : ''}; they are not stored: keep this list safe\n`);
}

async function list(ctx: AppContext, flags: TokenFlags): Promise<void> {
  if (flags.status && !TOKEN_STATES.includes(flags.status as EnrollmentTokenState)) throw usageError(`--status is one of ${TOKEN_STATES.join(', ')}`);
  const now = ctx.clock.now().getTime();
  const rows = (await listEnrollmentTokens(ctx.store, { device: flags.device, lot: flags.lot, state: flags.status as EnrollmentTokenState | undefined, limit: parseLimit(flags.limit) }, now)).map((r) => tokenView(r, now));
  if (flags.json) printJson(rows);
  else printTable(rows, ['id', 'device', 'use', 'label', 'lot', 'state', 'expiresAt', 'usedFor']);
}

async function revoke(ctx: AppContext, args: string[], flags: TokenFlags): Promise<void> {
  const id = args[0];
  if (Boolean(id) === Boolean(flags.lot)) throw usageError('usage: hallmark token revoke <id>, or hallmark token revoke --lot <lot> (ids: `hallmark token list`)');
  const revoked = await revokeTokens(ctx, id ? { id } : { lot: flags.lot! }, actor(), 'cli', ctx.clock.now());
  if (flags.json) printJson({ revoked });
  else process.stderr.write(`${revoked} secret(s) revoked: they can no longer enroll a device\n`);
}

/** `hallmark token`: one-time EST enrollment secrets (docs/device-developers.md). */
export async function tokenCommand(verb: string | undefined, args: string[], flags: TokenFlags): Promise<void> {
  await withContext({ withKeys: verb === 'create' && Boolean(flags.cmp) }, async (ctx) => {
    if (verb === 'create') return create(ctx, flags);
    if (verb === 'list') return list(ctx, flags);
    if (verb === 'revoke') return revoke(ctx, args, flags);
    throw usageError('usage: hallmark token create|list|revoke …');
  });
}
