import { crlKey, WHOLE, type CrlKindName, type CrlRow, type CrlStore } from '../../store/crls.js';

export interface ServedCrl {
  der: Uint8Array;
  number: number;
  thisUpdate: Date;
  nextUpdate: Date;
  etag: string;
}

/**
 * The newest stored CRL of each series (CA, whole or shard, complete or delta), in memory: serving
 * reads this and never signs. Updated at once by this instance's own generations and by polling for
 * numbers other instances stored.
 */
export function createCrlCache(crls: CrlStore) {
  const served = new Map<string, ServedCrl>();
  const series = new Map<string, { ca: string; shard: number | null; kind: CrlKindName }>();
  const put = (row: CrlRow) => {
    const shard = Number(row.shard ?? WHOLE) === WHOLE ? null : Number(row.shard);
    const kind: CrlKindName = row.base_number === null || row.base_number === undefined ? 'complete' : 'delta';
    const key = crlKey(row.issuer, shard, kind);
    const current = served.get(key);
    if (current && current.number >= Number(row.number)) return;
    series.set(key, { ca: row.issuer, shard, kind });
    served.set(key, {
      der: new Uint8Array(row.der),
      number: Number(row.number),
      thisUpdate: new Date(Number(row.this_update)),
      nextUpdate: new Date(Number(row.next_update)),
      // CRL numbers are unique per CA across its series.
      etag: `"${row.issuer}-${row.number}"`,
    });
  };
  return {
    /** The whole complete CRL of a CA. */
    get: (ca: string) => served.get(crlKey(ca, null, 'complete')),
    /** One series: a shard (or null for the whole CRL), complete or delta. */
    find: (ca: string, shard: number | null, kind: CrlKindName) => served.get(crlKey(ca, shard, kind)),
    /** Every series held, for freshness checks. */
    all: () => [...served.entries()].map(([key, crl]) => ({ ...series.get(key)!, crl })),
    put,
    async refresh(): Promise<void> {
      for (const { issuer, shard, kind, number } of await crls.latestNumbers()) {
        if ((served.get(crlKey(issuer, shard, kind))?.number ?? -1) < number) {
          const row = await crls.latest(issuer, shard, kind);
          if (row) put(row);
        }
      }
    },
  };
}

export type CrlCache = ReturnType<typeof createCrlCache>;
