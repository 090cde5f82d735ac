import type { CrlRow, CrlStore } from '../../store/crls.js';

export interface ServedCrl {
  der: Uint8Array;
  number: number;
  thisUpdate: Date;
  nextUpdate: Date;
  etag: string;
}

/**
 * The newest stored CRL of each CA, in memory: serving reads this and never signs. Updated at once
 * by this instance's own generations and by polling for numbers other instances stored.
 */
export function createCrlCache(crls: CrlStore) {
  const served = new Map<string, ServedCrl>();
  const put = (row: CrlRow) => {
    const current = served.get(row.issuer);
    if (current && current.number >= Number(row.number)) return;
    served.set(row.issuer, {
      der: new Uint8Array(row.der),
      number: Number(row.number),
      thisUpdate: new Date(Number(row.this_update)),
      nextUpdate: new Date(Number(row.next_update)),
      etag: `"${row.issuer}-${row.number}"`,
    });
  };
  return {
    get: (ca: string) => served.get(ca),
    put,
    async refresh(): Promise<void> {
      for (const [issuer, number] of await crls.latestNumbers()) {
        if ((served.get(issuer)?.number ?? -1) < number) {
          const row = await crls.latest(issuer);
          if (row) put(row);
        }
      }
    },
  };
}

export type CrlCache = ReturnType<typeof createCrlCache>;
