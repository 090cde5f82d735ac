import { sql, type Handle } from './handle.js';
import type { CertificateIntent } from './certificates.js';
import type { AuditAppend as PreparedAppend } from './audit.js';
import { AUDIT_ENTRY_COLUMNS, CERTIFICATE_INTENT_COLUMNS, quotedColumns, type OneTripOutcome } from './intent-columns.js';

/**
 * SQLite: the intents of single issuances (EST, REST) and their audit entries as one script, run by
 * one call to the connection: BEGIN IMMEDIATE, the two inserts, the head, COMMIT. node-sqlite3 hands
 * each statement to libuv's thread pool and needs a turn of the event loop before it sends the next,
 * so the transaction cost four turns of a busy loop (3.1 of the 6.3 ms an EST batch took); a script
 * runs from BEGIN to COMMIT on the pool's thread in one go.
 *
 * A script takes no bound parameters, so every value is written as a literal that can only be what
 * it is: integers checked to be safe integers, text and bytes as hex (`CAST(X'…' AS TEXT)` and
 * `X'…'`), NULL. No value's own characters ever reach the SQL, whatever a CSR's subject holds.
 *
 * The entries chain from the head this process last left (audit/log.ts prepareAppend). If another
 * writer appended since, the entries' sequence numbers are taken (the primary key of audit_events)
 * and the script fails there: it is rolled back and reported as a moved head, to be prepared again.
 * A taken serial fails it the same way as the certificates' primary key, and is thrown.
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

export async function recordIntentsWithAuditSqlite(db_: Handle, intents: CertificateIntent[], append: PreparedAppend): Promise<OneTripOutcome> {
  const db = sql(db_);
  const script =
    'BEGIN IMMEDIATE;' +
    `INSERT INTO "certificates" (${quotedColumns(CERTIFICATE_INTENT_COLUMNS)}) VALUES ${values(
      intents.map((i) => ({ ...i, status: 'pending' })),
      CERTIFICATE_INTENT_COLUMNS,
    )};` +
    `INSERT INTO "audit_events" (${quotedColumns(AUDIT_ENTRY_COLUMNS)}) VALUES ${values(append.rows as unknown as Record<string, Value>[], AUDIT_ENTRY_COLUMNS)};` +
    `UPDATE "audit_head" SET "seq" = ${literal(append.to.seq)}, "hash" = ${literal(append.to.hash)} WHERE "id" = 1;` +
    'COMMIT;';
  const connection = (await db.client.acquireConnection()) as RawConnection;
  try {
    await exec(connection, script);
    return 'recorded';
  } catch (e) {
    // Whatever statement failed, nothing of the script stays (an error before BEGIN took hold leaves
    // no transaction to roll back: that ROLLBACK's own error is not the story).
    await exec(connection, 'ROLLBACK').catch(() => undefined);
    if (/UNIQUE constraint failed: audit_events\.seq/.test((e as Error).message)) return 'head moved';
    throw e;
  } finally {
    db.client.releaseConnection(connection);
  }
}
