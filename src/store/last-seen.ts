import { sql, type Handle } from './handle.js';

const PER_STATEMENT = 400;

/**
 * Records when certificates were last asked about over OCSP: one upsert per few hundred certificates;
 * a row only moves forward in time (instances flush at different moments).
 */
export async function recordOcspSeen(handle: Handle, seen: [serial: string, at: number][]): Promise<void> {
  const db = sql(handle);
  for (let i = 0; i < seen.length; i += PER_STATEMENT) {
    const rows = seen.slice(i, i + PER_STATEMENT).map(([serial, at]) => ({ serial, ocsp_at: at }));
    await db('certificate_last_seen').insert(rows).onConflict('serial').merge().where('certificate_last_seen.ocsp_at', '<', db.raw('excluded.ocsp_at'));
  }
}

/** The latest OCSP question about any of these certificates, or null. */
export async function lastOcspSeen(handle: Handle, serials: string[]): Promise<number | null> {
  if (!serials.length) return null;
  const row = (await sql(handle)('certificate_last_seen').whereIn('serial', serials).max({ at: 'ocsp_at' }).first()) as { at: number | string | null } | undefined;
  return row?.at === null || row?.at === undefined ? null : Number(row.at);
}
