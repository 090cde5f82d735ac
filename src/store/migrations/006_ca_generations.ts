import type { Knex } from 'knex';

/**
 * CA generations: a rollover adds a CA row of the same family (e.g. issuing → issuing-2) that takes
 * over issuance from `active_from`; older generations keep their CRL and OCSP until retired.
 */
export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('cas', (t) => {
    t.string('family', 63).nullable();
    t.bigInteger('active_from').nullable();
    t.bigInteger('retired_at').nullable();
  });
  await db('cas').update({ family: db.ref('name'), active_from: db.ref('created_at') });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('cas', (t) => {
    t.dropColumn('family');
    t.dropColumn('active_from');
    t.dropColumn('retired_at');
  });
}
