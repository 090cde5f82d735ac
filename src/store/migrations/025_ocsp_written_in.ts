import type { Knex } from 'knex';

/**
 * ocsp_responses.written_in: the number of the pre-signer's pass that wrote the row (the setting
 * `ocsp_presign_passes` counts them). Passes run one at a time, each in one transaction that also moves
 * the count (store/ocsp-responses.ts, recordPresignPass), so pass numbers are in commit order: an
 * instance that has read every row up to pass n has read everything committed before pass n+1 and needs
 * no look back. Until now instances loaded new rows by signed_at, a clock stamped before the commit, and
 * re-read the last two seconds on every poll to cover that gap: about three reads per response per
 * instance (docs/issuance-performance.md, "Scale-out: each response read once per instance").
 * The (written_in, serial) index replaces (signed_at, serial), which nothing reads any longer.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('ocsp_responses', (t) => {
    t.bigInteger('written_in').notNullable().defaultTo(0);
  });
  await db.schema.alterTable('ocsp_responses', (t) => {
    t.dropIndex(['signed_at', 'serial']);
    t.index(['written_in', 'serial']);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('ocsp_responses', (t) => {
    t.dropIndex(['written_in', 'serial']);
    t.index(['signed_at', 'serial']);
  });
  await db.schema.alterTable('ocsp_responses', (t) => {
    t.dropColumn('written_in');
  });
}
