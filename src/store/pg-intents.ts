import { sql, type Handle } from './handle.js';
import type { KeyedIntents } from './certificates.js';
import { keptDespite, refusalOf, type KeyRefusal } from './public-keys.js';
import { AUDIT_ENTRY_COLUMNS, CERTIFICATE_INTENT_COLUMNS, quotedColumns } from './intent-columns.js';
import { byteaText } from './pg-prepared.js';

/**
 * PostgreSQL: single issuances' key bindings, intents and audit entries in one statement, so one round
 * trip instead of two (the binding, then the intents with their entries) or six with BEGIN and COMMIT.
 * Under EST load each round trip waits its turn on a busy event loop, and each statement costs
 * PostgreSQL ~0.3 ms however few rows it carries: a batch's fixed cost is what three instances on the
 * same clients multiply (docs/issuance-performance.md, "Scale-out: what a batch costs").
 *
 * The binding is store/public-keys.ts's, as a data-modifying CTE: the insert that meets a key bound
 * already turns into a no-op update that returns the row as it stands (waiting, as there, for a
 * concurrent binding of the same key to commit). A key bound to another identity or compromised is
 * refused, and the intents and entries carrying its key are not inserted; entries with no key (lint
 * failures) always are. The entries go to audit_pending, unsequenced: nothing here takes a lock that
 * another issuance needs (the sequencer chains them, audit/sequencer.ts). All of it lands or none.
 *
 * Rows travel as three JSON parameters (the bindings read once, in `wanted`) turned into the tables'
 * own row types by jsonb_populate_record(set), so the text is the same whatever the batch size and is
 * prepared once per connection (a named statement), and nothing is bound per column. A serial already
 * taken fails the statement as a unique violation, as the INSERT would.
 */
const certificateColumns = quotedColumns(CERTIFICATE_INTENT_COLUMNS);
const auditColumns = quotedColumns(AUDIT_ENTRY_COLUMNS);
const keptRow = (row: string) => `NOT EXISTS (SELECT 1 FROM refused WHERE refused.key_id = ${row}->>'key_id')`;

const STATEMENT = `WITH wanted AS (
  SELECT key_id, identity, bound_at FROM jsonb_populate_recordset(NULL::public_keys, ?::jsonb)
), bound AS (
  INSERT INTO public_keys (key_id, identity, bound_at) SELECT key_id, identity, bound_at FROM wanted
  ON CONFLICT (key_id) DO UPDATE SET key_id = EXCLUDED.key_id
  RETURNING key_id, identity, compromised_at, compromised_serial
), refused AS (
  SELECT b.key_id, b.compromised_at, b.compromised_serial FROM bound b JOIN wanted w ON w.key_id = b.key_id
  WHERE b.compromised_at IS NOT NULL OR b.identity <> w.identity
), intents AS (
  INSERT INTO certificates (${certificateColumns})
  SELECT ${certificateColumns} FROM jsonb_array_elements(?::jsonb) e, jsonb_populate_record(NULL::certificates, e) r
  WHERE ${keptRow('e')} RETURNING 1
), entries AS (
  INSERT INTO audit_pending (${auditColumns})
  SELECT ${auditColumns} FROM jsonb_array_elements(?::jsonb) e, jsonb_populate_record(NULL::audit_pending, e) r
  WHERE e->>'key_id' IS NULL OR ${keptRow('e')} RETURNING 1
)
SELECT (SELECT count(*) FROM intents) AS intents, (SELECT count(*) FROM entries) AS entries,
  (SELECT coalesce(jsonb_agg(refused), '[]'::jsonb) FROM refused) AS refused`;

interface RefusedRow {
  key_id: string;
  compromised_at: number | null;
  compromised_serial: string | null;
}

export async function recordIntentsWithAudit(db_: Handle, record: KeyedIntents): Promise<KeyRefusal[]> {
  const db = sql(db_);
  const bindings = JSON.stringify(record.bindings.map((b) => ({ key_id: b.keyId, identity: b.identity, bound_at: record.now })));
  const intents = record.intents.map((i) => ({ ...i, tbs: byteaText(i.tbs), status: 'pending' }));
  const result = (await db.raw(STATEMENT, [bindings, JSON.stringify(intents), JSON.stringify(record.entries)]).options({ name: 'hm_intents_binding_keys' })) as {
    rows: { intents: string; entries: string; refused: RefusedRow[] }[];
  };
  const [row] = result.rows;
  const refusals = row!.refused.map(refusalOf);
  const kept = keptDespite(refusals);
  const wantedIntents = record.intents.filter((i) => kept(i.key_id)).length;
  const wantedEntries = record.entries.filter((e) => kept(e.key_id)).length;
  if (Number(row!.intents) !== wantedIntents || Number(row!.entries) !== wantedEntries) {
    // Cannot happen (the inserts have no other condition); never pass it silently.
    throw new Error(`recording intents wrote ${row!.intents} of ${wantedIntents} certificates and ${row!.entries} of ${wantedEntries} audit entries`);
  }
  return refusals;
}
