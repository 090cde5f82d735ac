import { sql, type Handle } from './handle.js';
import type { CertificateIntent } from './certificates.js';
import type { PendingAuditRow } from './audit.js';
import { AUDIT_ENTRY_COLUMNS, CERTIFICATE_INTENT_COLUMNS, quotedColumns } from './intent-columns.js';
import { byteaText } from './pg-prepared.js';

/**
 * PostgreSQL: the intents of single issuances (EST, REST) and their audit entries in one statement, so
 * one round trip instead of four (BEGIN, the intents, the entries, COMMIT). Under EST load each round
 * trip waits its turn on a busy event loop. The entries go to audit_pending, unsequenced: nothing here
 * takes a lock that another issuance needs (the sequencer chains them, audit/sequencer.ts).
 * Data-modifying CTEs run in the one statement's transaction: all of it lands or none. Rows travel as
 * two JSON parameters, turned into the tables' own row types by jsonb_populate_recordset, so the text
 * is the same whatever the batch size and is prepared once per connection (a named statement), and
 * nothing is bound per column. A serial already taken fails the statement as a unique violation, as
 * the INSERT would.
 */
const certificateColumns = quotedColumns(CERTIFICATE_INTENT_COLUMNS);
const auditColumns = quotedColumns(AUDIT_ENTRY_COLUMNS);

const STATEMENT = `WITH intents AS (
  INSERT INTO certificates (${certificateColumns})
  SELECT ${certificateColumns} FROM jsonb_populate_recordset(NULL::certificates, ?::jsonb) RETURNING 1
), entries AS (
  INSERT INTO audit_pending (${auditColumns})
  SELECT ${auditColumns} FROM jsonb_populate_recordset(NULL::audit_pending, ?::jsonb) RETURNING 1
)
SELECT (SELECT count(*) FROM intents) AS intents, (SELECT count(*) FROM entries) AS entries`;

export async function recordIntentsWithAudit(db_: Handle, intents: CertificateIntent[], entries: PendingAuditRow[]): Promise<void> {
  const db = sql(db_);
  const rows = intents.map((i) => ({ ...i, tbs: byteaText(i.tbs), status: 'pending' }));
  const result = (await db.raw(STATEMENT, [JSON.stringify(rows), JSON.stringify(entries)]).options({ name: 'hm_intents_with_audit_pending' })) as { rows: { intents: string; entries: string }[] };
  const [counts] = result.rows;
  if (Number(counts!.intents) !== intents.length || Number(counts!.entries) !== entries.length) {
    // Cannot happen (the inserts have no condition); never pass it silently.
    throw new Error(`recording intents wrote ${counts!.intents} of ${intents.length} certificates and ${counts!.entries} of ${entries.length} audit entries`);
  }
}
