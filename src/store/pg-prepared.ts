import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { isPostgres } from './db.js';

/**
 * PostgreSQL parses and plans an unnamed statement every time it is sent: for the batch paths'
 * statements of 400–500 rows (thousands of parameters) that was about half of PostgreSQL's CPU per
 * certificate (a 400-row INSERT: 14–18 ms unnamed, 5–8 ms named, on this machine). A statement sent
 * again and again with the same text is therefore sent under a name: node-postgres prepares it once
 * per connection and from then on sends only Bind and Execute.
 *
 * Only full chunks are named (`perStatement` rows, the same text every time), because PostgreSQL keeps
 * a named statement for the life of the connection and a 400-row INSERT holds ~2.3 MiB of the backend's
 * memory: a handful of shapes × the pool's connections (docs/operators.md, "Storage"). The rest stay unnamed.
 * A connection pooler in front of PostgreSQL must keep prepared statements per client (PgBouncer:
 * session pooling, or transaction pooling with `max_prepared_statements`).
 */
export function namedWhenFull<Q extends Knex.QueryBuilder | Knex.Raw>(db: Knex | Knex.Transaction, query: Q, rows: number, perStatement: number, name: () => string): Q {
  if (rows !== perStatement || !isPostgres(db)) return query;
  return query.options({ name: name() }) as Q;
}

/** A statement name from the statement's text: node-postgres refuses a name reused for another text. */
export const nameOfText = (sql: string): string => `hm_${createHash('sha1').update(sql).digest('hex').slice(0, 24)}`;

/**
 * Bytes as a JSON row carries them to jsonb_populate_recordset, which reads a bytea field from text:
 * PostgreSQL's hex input form.
 */
export const byteaText = (bytes: Uint8Array): string => `\\x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`;
