import { sql, type Handle } from './handle.js';
import { insertMany, ROWS_PER_STATEMENT } from './insert-many.js';

// A row only moves forward in time: instances flush at different moments.
const NEWER_WINS = 'on conflict ("serial") do update set "ocsp_at" = excluded."ocsp_at" where "certificate_last_seen"."ocsp_at" < excluded."ocsp_at"';

/**
 * Records when certificates were last asked about over OCSP: one upsert per few hundred certificates,
 * its SQL written once (insert-many.ts): after a broker restart, each never-asked certificate is a row
 * here, tens of thousands a second, and knex's builder cost more than the answers' own work.
 */
export async function recordOcspSeen(handle: Handle, seen: [serial: string, at: number][]): Promise<void> {
  await insertMany(sql(handle), 'certificate_last_seen', seen.map(([serial, at]) => ({ serial, ocsp_at: at })), ROWS_PER_STATEMENT, NEWER_WINS);
}

/** The latest OCSP question about any of these certificates, or null. */
export async function lastOcspSeen(handle: Handle, serials: string[]): Promise<number | null> {
  if (!serials.length) return null;
  const row = (await sql(handle)('certificate_last_seen').whereIn('serial', serials).max({ at: 'ocsp_at' }).first()) as { at: number | string | null } | undefined;
  return row?.at === null || row?.at === undefined ? null : Number(row.at);
}
