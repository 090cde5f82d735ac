import fs from 'node:fs';
import os from 'node:os';
import { inTransaction } from '../store/handle.js';
import { listEnrollmentTokens, revokeEnrollmentTokens, type EnrollmentTokenRow, type EnrollmentTokenState } from '../store/credentials.js';
import { createEnrollmentTokens } from '../auth/enrollment-tokens.js';
import { HallmarkError } from '../base/errors.js';
import type { AppContext } from '../app/context.js';
import { csvLine, printJson, printTable } from './output.js';
import { parseDuration, parseLimit, usageError } from './usage-error.js';
import { withContext } from './with-context.js';

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
}

const STATES: EnrollmentTokenState[] = ['unused', 'used', 'expired', 'revoked'];
const MAX_LOT = 100_000;

const stateOf = (row: Omit<EnrollmentTokenRow, 'secret_hash'>, now: number): EnrollmentTokenState =>
  row.revoked_at ? 'revoked' : row.used_at !== null ? 'used' : Number(row.expires_at) <= now ? 'expired' : 'unused';

const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString());

/** The EST label's profile must accept these device ids: a secret for an id it refuses is a dead secret. */
function checkDevices(ctx: AppContext, label: string | undefined, devices: string[]): void {
  const name = label ?? 'default';
  const est = ctx.config.est.labels[name];
  if (!est) throw usageError(`no EST label "${name}" (configured: ${Object.keys(ctx.config.est.labels).join(', ')})`);
  const profile = ctx.config.profiles.get(est.profile)!;
  const pattern = new RegExp(profile.identity.pattern);
  const refused = devices.filter((d) => !pattern.test(d));
  if (refused.length) {
    throw usageError(`device id "${refused[0]}" does not match profile "${profile.name}" (EST label "${name}"): ids must match ${profile.identity.pattern}`);
  }
}

async function create(ctx: AppContext, flags: TokenFlags): Promise<void> {
  if (Boolean(flags.device) === Boolean(flags.lot)) throw usageError('name one device (--device <id>) or a production lot (--lot <lot> --count <n>)');
  const count = flags.lot ? Number(flags.count) : 1;
  if (flags.lot && !(Number.isInteger(count) && count >= 1 && count <= MAX_LOT)) throw usageError(`--lot needs --count <n>, 1 to ${MAX_LOT}`);
  if (!flags.lot && flags.count) throw usageError('--count goes with --lot');
  const format = flags.format ?? (flags.lot ? 'csv' : 'text');
  if (flags.lot && format !== 'csv' && format !== 'jsonl') throw usageError('--format is csv or jsonl');
  // A lot's devices are <lot>-0001 … <lot>-<n>: the ids printed on its labels.
  const width = Math.max(4, String(count).length);
  const devices = flags.lot ? Array.from({ length: count }, (_, i) => `${flags.lot}-${String(i + 1).padStart(width, '0')}`) : [flags.device!];
  checkDevices(ctx, flags.label, devices);
  const now = ctx.clock.now();
  const expiresAt = new Date(now.getTime() + (flags.expires ? parseDuration(flags.expires) : ctx.config.est.tokenExpiryHours * 3_600_000));
  const actor = `cli:${os.userInfo().username}`;
  const made = await inTransaction(ctx.store, async (trx) => {
    if (flags.lot && (await listEnrollmentTokens(trx, { lot: flags.lot, limit: 1 }, now.getTime())).length) {
      throw new HallmarkError('exists', `lot "${flags.lot}" has secrets already; list them with \`hallmark token list --lot ${flags.lot}\`, revoke them with \`hallmark token revoke --lot ${flags.lot}\`, or name another lot`, 409);
    }
    const created = await createEnrollmentTokens(trx, { devices, label: flags.label, lot: flags.lot, expiresAt, createdBy: actor, now });
    await ctx.audit.recordIn(trx, {
      actor,
      action: 'token.create',
      target: flags.lot ? `lot:${flags.lot}` : flags.device,
      outcome: 'success',
      source: 'cli',
      details: flags.lot ? { lot: flags.lot, count, label: flags.label, expiresAt: expiresAt.toISOString() } : { id: created[0]!.id, label: flags.label, expiresAt: expiresAt.toISOString() },
    });
    return created;
  });
  const rows = made.map((t) => ({ device: t.device, secret: t.secret, id: t.id, label: flags.label ?? null, expiresAt: expiresAt.toISOString() }));
  if (!flags.lot) {
    if (flags.json) printJson({ ...rows[0], lot: null });
    else process.stdout.write(`enrollment secret for ${flags.device} (one use, until ${expiresAt.toISOString()}), shown once:\n\n    ${made[0]!.secret}\n\nThe device enrolls with HTTP Basic ${flags.device}:<secret> at /.well-known/est/${flags.label && flags.label !== 'default' ? `${flags.label}/` : ''}simpleenroll\n`);
    return;
  }
  const columns = ['device', 'secret', 'id', 'label', 'expiresAt'] as const;
  const text = format === 'csv' ? csvLine([...columns]) + rows.map((r) => csvLine(columns.map((c) => r[c]))).join('') : rows.map((r) => JSON.stringify(r) + '\n').join('');
  // The secrets are shown once: a file of them is the owner's alone.
  if (flags.out) fs.writeFileSync(flags.out, text, { mode: 0o600 });
  else process.stdout.write(text);
  process.stderr.write(`${count} secrets for lot ${flags.lot} (one use each, until ${expiresAt.toISOString()})${flags.out ? ` → ${flags.out}` : ''}; they are not stored: keep this list safe\n`);
}

async function list(ctx: AppContext, flags: TokenFlags): Promise<void> {
  if (flags.status && !STATES.includes(flags.status as EnrollmentTokenState)) throw usageError(`--status is one of ${STATES.join(', ')}`);
  const now = ctx.clock.now().getTime();
  const rows = (await listEnrollmentTokens(ctx.store, { device: flags.device, lot: flags.lot, state: flags.status as EnrollmentTokenState | undefined, limit: parseLimit(flags.limit) }, now)).map((r) => ({
    id: r.id,
    device: r.device,
    label: r.label ?? 'any',
    lot: r.lot ?? null,
    state: stateOf(r, now),
    expiresAt: iso(r.expires_at),
    usedAt: iso(r.used_at),
    usedFor: r.used_for ?? null,
    createdBy: r.created_by,
    revokedBy: r.revoked_by ?? null,
  }));
  if (flags.json) printJson(rows);
  else printTable(rows, ['id', 'device', 'label', 'lot', 'state', 'expiresAt', 'usedFor']);
}

async function revoke(ctx: AppContext, args: string[], flags: TokenFlags): Promise<void> {
  const id = args[0];
  if (Boolean(id) === Boolean(flags.lot)) throw usageError('usage: hallmark token revoke <id>, or hallmark token revoke --lot <lot> (ids: `hallmark token list`)');
  const actor = `cli:${os.userInfo().username}`;
  const now = ctx.clock.now().getTime();
  const revoked = await inTransaction(ctx.store, async (trx) => {
    const n = await revokeEnrollmentTokens(trx, id ? { id } : { lot: flags.lot! }, actor, now);
    if (n) await ctx.audit.recordIn(trx, { actor, action: 'token.revoke', target: id ?? `lot:${flags.lot}`, outcome: 'success', source: 'cli', details: { count: n } });
    return n;
  });
  if (!revoked) throw new HallmarkError('not_found', `${id ? `no unused secret "${id}"` : `no unused secret in lot "${flags.lot}"`} (used, revoked or unknown; see \`hallmark token list\`)`, 404);
  if (flags.json) printJson({ revoked });
  else process.stderr.write(`${revoked} secret(s) revoked: they can no longer enroll a device\n`);
}

/** `hallmark token`: one-time EST enrollment secrets (docs/device-developers.md). */
export async function tokenCommand(verb: string | undefined, args: string[], flags: TokenFlags): Promise<void> {
  await withContext({ withKeys: false }, async (ctx) => {
    if (verb === 'create') return create(ctx, flags);
    if (verb === 'list') return list(ctx, flags);
    if (verb === 'revoke') return revoke(ctx, args, flags);
    throw usageError('usage: hallmark token create|list|revoke …');
  });
}
