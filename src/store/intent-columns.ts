/**
 * What the one-round-trip record of single issuances writes (pg-intents.ts, sqlite-intents.ts): the
 * columns of an intent's certificate row and of an audit entry, in one order for both databases.
 */
export const CERTIFICATE_INTENT_COLUMNS = ['serial', 'issuer', 'profile', 'identity', 'subject', 'status', 'not_before', 'not_after', 'tbs', 'key_type', 'requested_by', 'created_at', 'crl_shard'];
/** An audit entry as appended: unsequenced, into audit_pending (store/audit.ts). */
export const AUDIT_ENTRY_COLUMNS = ['at', 'actor', 'action', 'target', 'outcome', 'source', 'details'];

export const quotedColumns = (columns: string[]) => columns.map((c) => `"${c}"`).join(', ');
