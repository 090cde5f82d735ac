import type { AuditRow } from './log.js';

/** An audit entry as exported and served: the stored fields, details parsed, time as ISO 8601. */
export const auditEntryView = (row: AuditRow) => ({
  seq: Number(row.seq),
  at: new Date(Number(row.at)).toISOString(),
  actor: row.actor,
  action: row.action,
  target: row.target,
  outcome: row.outcome,
  source: row.source,
  details: row.details ? JSON.parse(row.details) : null,
  prevHash: row.prev_hash,
  hash: row.hash,
});
