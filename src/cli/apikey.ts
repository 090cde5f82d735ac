import { inTransaction } from '../store/handle.js';
import os from 'node:os';
import { createApiKey, listApiKeys, revokeApiKey } from '../auth/api-keys.js';
import { isScope, SCOPE_HELP } from '../auth/scopes.js';
import { ROLES, type Role } from '../auth/roles.js';
import { apiKeyView } from '../protocols/rest/apikeys.js';
import { HallmarkError } from '../base/errors.js';
import { printJson, printTable } from './output.js';
import { parseDuration, usageError } from './usage-error.js';
import { withContext } from './with-context.js';

export interface ApiKeyFlags {
  json: boolean;
  role?: string;
  label?: string;
  scopes?: string;
  expires?: string;
}

export async function apikeyCommand(verb: string | undefined, args: string[], flags: ApiKeyFlags): Promise<void> {
  if (verb !== 'create' && verb !== 'list' && verb !== 'revoke') {
    throw usageError('usage: hallmark apikey create --role <role> [--label <text>] [--scopes a,b] [--expires 90d] | apikey list | apikey revoke <id>');
  }
  const actor = `cli:${os.userInfo().username}`;
  await withContext({ withKeys: false }, async (ctx) => {
    const now = ctx.clock.now();
    if (verb === 'create') {
      if (!flags.role || !(ROLES as readonly string[]).includes(flags.role)) throw usageError(`--role is one of ${ROLES.join(', ')}`);
      const scopes = flags.scopes?.split(',').map((s) => s.trim()).filter(Boolean);
      const unknown = scopes?.filter((s) => !isScope(s));
      if (unknown?.length) throw usageError(`unknown scope ${unknown.join(', ')}; ${SCOPE_HELP}`);
      const expiresAt = flags.expires ? new Date(now.getTime() + parseDuration(flags.expires)) : undefined;
      const created = await inTransaction(ctx.store, async (trx) => {
        const key = await createApiKey(trx, { role: flags.role as Role, label: flags.label, scopes, expiresAt, createdBy: actor, now });
        await ctx.audit.recordIn(trx, { actor, action: 'apikey.create', target: key.id, outcome: 'success', source: 'cli', details: { role: flags.role, label: flags.label, scopes } });
        return key;
      });
      const view = { ...apiKeyView(created.row, now), apiKey: created.apiKey };
      if (flags.json) printJson(view);
      else process.stdout.write(`API key ${view.id} (${view.role}${view.expiresAt ? `, expires ${view.expiresAt}` : ''}), shown once:\n\n    ${created.apiKey}\n\n`);
    } else if (verb === 'list') {
      const keys = (await listApiKeys(ctx.store)).map((k) => apiKeyView(k, now));
      if (flags.json) printJson(keys);
      else printTable(keys.map((k) => ({ ...k, scopes: k.scopes?.join(',') ?? 'all of role' })), ['id', 'role', 'state', 'label', 'scopes', 'expiresAt', 'createdBy']);
    } else {
      const id = args[0];
      if (!id) throw usageError('usage: hallmark apikey revoke <id>');
      const done = await inTransaction(ctx.store, async (trx) => {
        const revoked = await revokeApiKey(trx, id, now);
        if (revoked) await ctx.audit.recordIn(trx, { actor, action: 'apikey.revoke', target: id, outcome: 'success', source: 'cli' });
        return revoked;
      });
      if (!done) throw new HallmarkError('not_found', `no active API key ${id}; see \`hallmark apikey list\``, 404);
      if (flags.json) printJson({ id, revoked: true });
      else process.stderr.write(`API key ${id} revoked\n`);
    }
  });
}
