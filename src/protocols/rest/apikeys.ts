import { isoTime } from '../../base/iso-time.js';
import { inTransaction } from '../../store/handle.js';
import { z } from 'zod';
import { createApiKey, keyScopeNames, listApiKeys, revokeApiKey, type ApiKeyRow } from '../../auth/api-keys.js';
import { isScope, SCOPE_HELP } from '../../auth/scopes.js';
import { ROLES } from '../../auth/roles.js';
import type { AuditLog } from '../../audit/log.js';
import type { Clock } from '../../base/clock.js';
import type { Store } from '../../store/handle.js';
import { HallmarkError } from '../../base/errors.js';
import { actorName, principalOf } from '../../http/authenticate.js';
import type { RouteSpec } from '../../http/routes.js';
import { parseOrThrow } from './validation.js';
import { apiKeyAnswer, apiKeyListAnswer } from './answers.js';
import { refuseWiderGrant } from '../../auth/no-escalation.js';

const createBody = z.strictObject({
  role: z.enum(ROLES),
  label: z.string().min(1).max(128).optional(),
  scopes: z.array(z.string().refine(isScope, SCOPE_HELP)).min(1).optional().describe('permission names, or firmware.sign:<signer> (signing with that signer only)'),
  expiresInDays: z.number().positive().max(3650).optional(),
});

/** Never the secret or its hash: those are shown once, at creation. */
export const apiKeyView = (row: ApiKeyRow, now: Date) => ({
  id: row.id,
  role: row.role,
  label: row.label,
  scopes: keyScopeNames(row),
  createdBy: row.created_by,
  createdAt: new Date(Number(row.created_at)).toISOString(),
  expiresAt: isoTime(row.expires_at),
  revokedAt: isoTime(row.revoked_at),
  state: row.revoked_at !== null ? 'revoked' : row.expires_at !== null && Number(row.expires_at) <= now.getTime() ? 'expired' : 'active',
});

export function apiKeyRoutes(deps: { store: Store; audit: AuditLog; clock: Clock }): RouteSpec[] {
  return [
    {
      method: 'get',
      path: '/apikeys',
      permission: 'apikey.manage',
      summary: 'List API keys (never their secrets)',
      answers: { status: 200, schema: apiKeyListAnswer, description: 'Every key, never its secret' },
      handler: async (_req, res) => {
        const now = deps.clock.now();
        res.json({ apiKeys: (await listApiKeys(deps.store)).map((k) => apiKeyView(k, now)) });
      },
    },
    {
      method: 'post',
      path: '/apikeys',
      permission: 'apikey.manage',
      stepUp: true,
      summary: 'Create an API key; the key is in this response only',
      body: createBody,
      answers: { status: 201, schema: apiKeyAnswer, description: 'The key, shown this once (apiKey)' },
      example: { request: { role: 'operator', label: 'ci', scopes: ['cert.read'], expiresInDays: 90 } },
      jsonBody: '8kb',
      handler: async (req, res) => {
        const body = parseOrThrow(createBody, req.body, 'body');
        const now = deps.clock.now();
        const actor = actorName(principalOf(req));
        const expiresAt = body.expiresInDays ? new Date(now.getTime() + body.expiresInDays * 86_400_000) : undefined;
        try {
          refuseWiderGrant(principalOf(req), { role: body.role, scopes: body.scopes, expiresAt });
        } catch (e) {
          await deps.audit.record({ actor, action: 'apikey.create', target: body.role, outcome: 'failure', source: req.ip, details: { role: body.role, scopes: body.scopes, reason: (e as Error).message } });
          throw e;
        }
        const created = await inTransaction(deps.store, async (trx) => {
          const key = await createApiKey(trx, {
            role: body.role,
            label: body.label,
            scopes: body.scopes,
            expiresAt,
            createdBy: actor,
            now,
          });
          await deps.audit.recordIn(trx, { actor, action: 'apikey.create', target: key.id, outcome: 'success', source: req.ip, details: { role: body.role, label: body.label, scopes: body.scopes } });
          return key;
        });
        res.status(201).json({ ...apiKeyView(created.row, now), apiKey: created.apiKey });
      },
    },
    {
      method: 'delete',
      path: '/apikeys/:id',
      permission: 'apikey.manage',
      stepUp: true,
      summary: 'Revoke an API key',
      answers: { status: 204, description: 'Revoked' },
      handler: async (req, res) => {
        const id = String(req.params.id);
        const revoked = await inTransaction(deps.store, async (trx) => {
          const done = await revokeApiKey(trx, id, deps.clock.now());
          if (done) await deps.audit.recordIn(trx, { actor: actorName(principalOf(req)), action: 'apikey.revoke', target: id, outcome: 'success', source: req.ip });
          return done;
        });
        if (!revoked) throw new HallmarkError('not_found', `no active API key ${id}`, 404);
        res.status(204).end();
      },
    },
  ];
}
