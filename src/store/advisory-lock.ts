import type { Knex } from 'knex';

/**
 * PostgreSQL advisory locks are per database, not per schema: two Hallmark deployments in one database
 * (each in its schema, as the tests run side by side) would take each other's. The lock is the pair
 * (what it guards, the schema's hash), in the two-key form of pg_advisory_xact_lock; held until the
 * transaction ends.
 */
const KEY = '?, hashtext(current_schema())';

/** Takes the lock if no other transaction holds it; whether it did. */
export async function tryAdvisoryXactLock(trx: Knex.Transaction, purpose: number): Promise<boolean> {
  const { rows } = (await trx.raw(`SELECT pg_try_advisory_xact_lock(${KEY}) AS mine`, [purpose])) as { rows: { mine: boolean }[] };
  return rows[0]?.mine === true;
}

/** Takes the lock, waiting for the transaction that holds it. */
export async function advisoryXactLock(trx: Knex.Transaction, purpose: number): Promise<void> {
  await trx.raw(`SELECT pg_advisory_xact_lock(${KEY})`, [purpose]);
}

/**
 * The same, for a lock named by text (one per product and channel, say) rather than one fixed purpose:
 * the name's hash is the first key. Two names may share a hash; they then only wait for each other.
 */
export async function advisoryXactLockNamed(trx: Knex.Transaction, name: string): Promise<void> {
  await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?), hashtext(current_schema()))', [`hallmark:${name}`]);
}
