import { sql, type Handle } from './handle.js';
import type { KeyedIntents } from './certificates.js';
import { bindKeys, keptDespite, type KeyRefusal } from './public-keys.js';
import { AUDIT_ENTRY_COLUMNS, CERTIFICATE_INTENT_COLUMNS, quotedColumns } from './intent-columns.js';

/**
 * SQLite: the intents of single issuances (EST, REST) and their audit entries (unsequenced, into
 * audit_pending) as one script, run by one call to the connection: BEGIN IMMEDIATE, the two inserts, COMMIT. node-sqlite3 hands
 * each statement to libuv's thread pool and needs a turn of the event loop before it sends the next,
 * so the transaction cost four turns of a busy loop (3.1 of the 6.3 ms an EST batch took); a script
 * runs from BEGIN to COMMIT on the pool's thread in one go.
 *
 * A script takes no bound parameters, so every value is written as a literal that can only be what
 * it is: integers checked to be safe integers, text and bytes as hex (`CAST(X'…' AS TEXT)` and
 * `X'…'`), NULL. No value's own characters ever reach the SQL, whatever a CSR's subject holds.
 *
 * A taken serial fails the script at the certificates' primary key: it is rolled back, and thrown.
 */
type Value = string | number | Uint8Array | null | undefined;

function literal(value: Value): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new Error(`not an integer: ${value}`);
    return String(value);
  }
  if (typeof value === 'string') return `CAST(X'${Buffer.from(value, 'utf8').toString('hex')}' AS TEXT)`;
  return `X'${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}'`;
}

const values = (rows: Record<string, Value>[], columns: string[]) => rows.map((row) => `(${columns.map((c) => literal(row[c])).join(',')})`).join(',');


interface RawConnection {
  exec(sql: string, callback: (err: Error | null) => void): void;
}

const exec = (connection: RawConnection, sql: string) => new Promise<void>((resolve, reject) => connection.exec(sql, (err) => (err ? reject(err) : resolve())));

/**
 * The keys are bound first (store/public-keys.ts, its own statement: SQLite has no round trip to save),
 * then what the refused keys would have recorded is left out of the script.
 */
export async function recordIntentsWithAuditSqlite(db_: Handle, record: KeyedIntents): Promise<KeyRefusal[]> {
  const refusals = record.bindings.length ? await bindKeys(db_, record.bindings, record.now) : [];
  const kept = keptDespite(refusals);
  const intents = record.intents.filter((i) => kept(i.key_id));
  const entries = record.entries.filter((e) => kept(e.key_id));
  const inserts = [
    intents.length ? `INSERT INTO "certificates" (${quotedColumns(CERTIFICATE_INTENT_COLUMNS)}) VALUES ${values(intents.map((i) => ({ ...i, status: 'pending' })), CERTIFICATE_INTENT_COLUMNS)};` : '',
    entries.length ? `INSERT INTO "audit_pending" (${quotedColumns(AUDIT_ENTRY_COLUMNS)}) VALUES ${values(entries as unknown as Record<string, Value>[], AUDIT_ENTRY_COLUMNS)};` : '',
  ].join('');
  if (!inserts) return refusals;
  const db = sql(db_);
  const script = `BEGIN IMMEDIATE;${inserts}COMMIT;`;
  const connection = (await db.client.acquireConnection()) as RawConnection;
  try {
    await exec(connection, script);
  } catch (e) {
    // Whatever statement failed, nothing of the script stays (an error before BEGIN took hold leaves
    // no transaction to roll back: that ROLLBACK's own error is not the story).
    await exec(connection, 'ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    db.client.releaseConnection(connection);
  }
  return refusals;
}
