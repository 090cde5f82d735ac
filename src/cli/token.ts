import { inTransaction } from '../store/handle.js';
import os from 'node:os';
import { createEnrollmentToken } from '../auth/enrollment-tokens.js';
import { printJson } from './output.js';
import { parseDuration, usageError } from './usage-error.js';
import { withContext } from './with-context.js';

export interface TokenFlags {
  json: boolean;
  device?: string;
  label?: string;
  expires?: string;
}

/** `hallmark token create`: a one-time EST enrollment secret for one device (README "EST for devices"). */
export async function tokenCommand(verb: string | undefined, flags: TokenFlags): Promise<void> {
  if (verb !== 'create' || !flags.device) throw usageError('usage: hallmark token create --device <id> [--label <label>] [--expires <duration, e.g. 24h>]');
  await withContext({ withKeys: false }, async (ctx) => {
    const label = flags.label;
    if (label && !ctx.config.est.labels[label]) throw usageError(`no EST label "${label}" (configured: ${Object.keys(ctx.config.est.labels).join(', ')})`);
    const now = ctx.clock.now();
    const expiresAt = new Date(now.getTime() + (flags.expires ? parseDuration(flags.expires) : ctx.config.est.tokenExpiryHours * 3_600_000));
    const actor = `cli:${os.userInfo().username}`;
    const token = await inTransaction(ctx.store, async (trx) => {
      const created = await createEnrollmentToken(trx, { device: flags.device!, label, expiresAt, createdBy: actor, now });
      await ctx.audit.recordIn(trx, { actor, action: 'token.create', target: flags.device, outcome: 'success', source: 'cli', details: { id: created.id, label, expiresAt: expiresAt.toISOString() } });
      return created;
    });
    if (flags.json) printJson({ device: flags.device, secret: token.secret, expiresAt: expiresAt.toISOString(), label: label ?? null, id: token.id });
    else process.stdout.write(`enrollment secret for ${flags.device} (one use, until ${expiresAt.toISOString()}), shown once:\n\n    ${token.secret}\n\nThe device enrolls with HTTP Basic ${flags.device}:<secret> at /.well-known/est/${label && label !== 'default' ? `${label}/` : ''}simpleenroll\n`);
  });
}
