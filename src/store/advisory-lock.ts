/**
 * PostgreSQL advisory locks are per database, not per schema: two Hallmark deployments in one database
 * (each in its schema, as the tests run side by side) would take each other's. The lock is the pair
 * (what it guards, the schema's hash), in the two-key form of pg_advisory_xact_lock.
 */
const KEY = '?, hashtext(current_schema())';
export const tryAdvisoryXactLock = (purpose: number) => ({ sql: `SELECT pg_try_advisory_xact_lock(${KEY}) AS mine`, bindings: [purpose] });
export const advisoryXactLock = (purpose: number) => ({ sql: `SELECT pg_advisory_xact_lock(${KEY})`, bindings: [purpose] });
