/**
 * What the one-round-trip record of single issuances writes (pg-intents.ts, sqlite-intents.ts): the
 * columns of an intent's certificate row and of an audit entry, in one order for both databases.
 */
export const CERTIFICATE_INTENT_COLUMNS = ['serial', 'issuer', 'profile', 'identity', 'subject', 'status', 'not_before', 'not_after', 'tbs', 'key_type', 'requested_by', 'created_at'];
export const AUDIT_ENTRY_COLUMNS = ['seq', 'at', 'actor', 'action', 'target', 'outcome', 'source', 'details', 'prev_hash', 'hash'];

export const quotedColumns = (columns: string[]) => columns.map((c) => `"${c}"`).join(', ');

/** 'head moved': nothing was written; the entries are to be prepared again from the current head. */
export type OneTripOutcome = 'recorded' | 'head moved';
