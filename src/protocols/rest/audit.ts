import { z } from 'zod';
import type { Signer } from '../../keys/key-store.js';
import type { AuditLog } from '../../audit/log.js';
import { verifyAuditChain } from '../../audit/verify.js';
import { writeCheckpoint } from '../../audit/checkpoint.js';
import { auditEntryView } from '../../audit/view.js';
import type { Clock } from '../../base/clock.js';
import { listAuditEntries } from '../../store/audit.js';
import type { Store } from '../../store/handle.js';
import { actorName, principalOf } from '../../http/authenticate.js';
import type { RouteSpec } from '../../http/routes.js';
import { parseOrThrow } from './validation.js';

const listQuery = z.strictObject({
  after: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  action: z.string().max(64).optional(),
  actor: z.string().max(200).optional(),
  /** Newest first (the console), instead of in order after `after`. */
  newest: z.enum(['true', 'false']).optional(),
});

export function auditRoutes(deps: { store: Store; audit: AuditLog; clock: Clock; checkpointSigner: () => Promise<Signer>; token: string }): RouteSpec[] {
  return [
    {
      method: 'get',
      path: '/audit',
      permission: 'audit.read',
      summary: 'Audit entries in order after a sequence number, or newest first; optionally one action or actor',
      handler: async (req, res) => {
        const q = parseOrThrow(listQuery, req.query, 'query');
        const rows = await listAuditEntries(deps.store, { after: q.after, newest: q.newest === 'true', limit: q.limit ?? 100, action: q.action, actor: q.actor });
        res.json({ entries: rows.map(auditEntryView) });
      },
    },
    {
      method: 'get',
      path: '/audit/verify',
      permission: 'audit.read',
      summary: 'Verify the hash chain and the signed checkpoints',
      handler: async (_req, res) => {
        res.json(await verifyAuditChain(deps.store, await deps.checkpointSigner()));
      },
    },
    {
      method: 'post',
      path: '/audit/checkpoint',
      permission: 'ca.manage',
      summary: 'Sign the current chain head with the HSM audit key',
      handler: async (req, res) => {
        const row = await writeCheckpoint(deps.store, await deps.checkpointSigner(), deps.token, deps.clock);
        if (row) await deps.audit.record({ actor: actorName(principalOf(req)), action: 'audit.checkpoint', target: String(row.seq), outcome: 'success', source: req.ip });
        res.status(row ? 201 : 200).json(row ? { seq: Number(row.seq), hash: row.hash, at: new Date(Number(row.at)).toISOString() } : { unchanged: true });
      },
    },
  ];
}
