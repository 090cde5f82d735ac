/** A stored time (epoch milliseconds, as a number or as PostgreSQL's BIGINT text) as ISO 8601, or null. */
export const isoTime = (ms: number | string | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString());
