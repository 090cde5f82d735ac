/** The URLs issued certificates carry (docs/http-api.md, the plain-HTTP listener). */
export const crlUrl = (base: string, ca: string) => `${base}/crl/${ca}.crl`;
/** One shard of a partitioned CRL (RFC 5280 §5.2.5). */
export const crlShardUrl = (base: string, ca: string, shard: number) => `${base}/crl/${ca}/${shard}.crl`;
/** The delta CRL (RFC 5280 §5.2.4) of the whole CRL, or of one shard. */
export const deltaCrlUrl = (base: string, ca: string, shard: number | null) => (shard === null ? `${base}/crl/${ca}/delta.crl` : `${base}/crl/${ca}/${shard}-delta.crl`);
export const ocspUrl = (base: string) => `${base}/ocsp`;
export const caIssuersUrl = (base: string, ca: string) => `${base}/ca/${ca}.crt`;
