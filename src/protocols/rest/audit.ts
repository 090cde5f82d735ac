import { z } from 'zod';
import type { AuditLog } from '../../audit/log.js';
import type { AuditVerification } from '../../audit/verify.js';
import type { CheckpointRow } from '../../audit/checkpoint.js';
import { auditEntryView } from '../../audit/view.js';
import type { AuditQuery, AuditRow } from '../../store/audit.js';
import { actorName, principalOf } from '../../http/authenticate.js';
import type { RouteSpec } from '../../http/routes.js';
import { auditListAnswer, auditVerifyAnswer, checkpointAnswer } from './answers.js';
import { parseOrThrow } from './validation.js';

const listQuery = z.strictObject({
  after: z.coerce.number().int().min(0).optional().describe('Entries after this sequence number, in order'),
  before: z.coerce.number().int().min(1).optional().describe('With newest=true: the next page, entries before this sequence number'),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  action: z.string().max(64).optional().describe('Actions starting with this: certificate finds certificate.issue, certificate.revoke, …'),
  actor: z.string().max(200).optional(),
  since: z.iso.datetime({ offset: true }).optional().describe('Entries at or after this time'),
  until: z.iso.datetime({ offset: true }).optional().describe('Entries before this time'),
  newest: z.enum(['true', 'false']).optional().describe('Newest first (the console), instead of in order after `after`'),
});

/** The audit log as its routes read it (built by the composition root, which holds the audit key). */
export interface AuditReading {
  entries(query: AuditQuery): Promise<AuditRow[]>;
  /** The chain and its checkpoints, checked against the audit key. */
  verify(): Promise<AuditVerification>;
  /** What became of the certificates that pending issuance entries announced, by serial. */
  outcomes(serials: string[]): Promise<Map<string, 'success' | 'failure' | 'pending'>>;
  /** Names for actors that are credentials (API keys, client certificates). */
  actorNames(actors: string[]): Promise<Map<string, string>>;
  /** Signs the head with the audit key on the token; undefined when the head has a checkpoint already. */
  checkpoint(): Promise<CheckpointRow | undefined>;
}

export function auditRoutes(deps: { log: AuditReading; audit: AuditLog }): RouteSpec[] {
  return [
    {
      method: 'get',
      path: '/audit',
      permission: 'audit.read',
      summary: 'Audit entries in order after a sequence number, or newest first; optionally one action or actor',
      query: listQuery,
      answers: { status: 200, schema: auditListAnswer, description: 'Entries in order (or newest first)' },
      handler: async (req, res) => {
        const q = parseOrThrow(listQuery, req.query, 'query');
        const time = (iso: string | undefined) => (iso === undefined ? undefined : Date.parse(iso));
        const rows = await deps.log.entries({ after: q.after, before: q.before, newest: q.newest === 'true', limit: q.limit ?? 100, action: q.action, actor: q.actor, since: time(q.since), until: time(q.until) });
        // An issuance is logged as pending before the HSM signs; its final outcome is the certificate's.
        const outcomes = await deps.log.outcomes(rows.filter((r) => r.outcome === 'pending' && r.action === 'certificate.issue' && r.target).map((r) => r.target!));
        const names = await deps.log.actorNames([...new Set(rows.map((r) => r.actor))]);
        res.json({
          entries: rows.map((r) => ({ ...auditEntryView(r), actorName: names.get(r.actor) ?? null, finalOutcome: r.outcome === 'pending' ? (outcomes.get(r.target ?? '') ?? 'pending') : r.outcome })),
        });
      },
    },
    {
      method: 'get',
      path: '/audit/verify',
      permission: 'audit.read',
      summary: 'Verify the hash chain and the signed checkpoints',
      answers: { status: 200, schema: auditVerifyAnswer, description: 'The hash chain and the signed checkpoints checked' },
      handler: async (_req, res) => {
        res.json(await deps.log.verify());
      },
    },
    {
      method: 'post',
      path: '/audit/checkpoint',
      permission: 'ca.manage',
      summary: 'Sign the current chain head with the HSM audit key',
      answers: { status: 201, schema: checkpointAnswer, description: 'The checkpoint signed: the head of the log it covers' },
      handler: async (req, res) => {
        const row = await deps.log.checkpoint();
        if (row) await deps.audit.record({ actor: actorName(principalOf(req)), action: 'audit.checkpoint', target: String(row.seq), outcome: 'success', source: req.ip });
        res.status(row ? 201 : 200).json(row ? { seq: Number(row.seq), hash: row.hash, at: new Date(Number(row.at)).toISOString() } : { unchanged: true });
      },
    },
  ];
}
