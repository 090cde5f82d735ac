import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  // Provisioning stations: each with its own credentials, bound to one line, some profiles and a quota.
  await db.schema.createTable('stations', (t) => {
    t.string('name', 63).primary();
    t.string('line', 63).notNullable();
    t.text('profiles').notNullable();
    t.integer('quota_per_hour').notNullable();
    t.string('api_key_id', 32).nullable();
    t.string('cert_serial', 42).nullable();
    t.string('created_by', 128).notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('disabled_at').nullable();
  });
  // One factory identity per device serial. The row is reserved before the certificate is signed, so
  // two stations racing on one serial cannot both obtain an identity.
  await db.schema.createTable('devices', (t) => {
    t.string('serial', 128).primary();
    t.string('state', 16).notNullable();
    t.string('line', 63).notNullable();
    t.string('station', 63).notNullable();
    t.string('model', 128).notNullable();
    t.string('lot', 128).notNullable();
    t.string('firmware_version', 64).notNullable();
    t.string('profile', 63).notNullable();
    t.string('key_sha256', 64).notNullable();
    t.boolean('server_keygen').notNullable();
    t.string('certificate_serial', 42).nullable();
    t.bigInteger('provisioned_at').notNullable();
    t.bigInteger('reprovision_allowed_at').nullable();
    t.index(['lot']);
    t.index(['line', 'provisioned_at']);
  });
  // Manufacturing records: every provisioning event, kept when a device is re-provisioned.
  await db.schema.createTable('manufacturing_records', (t) => {
    t.increments('id').primary();
    t.string('device_serial', 128).notNullable();
    t.string('line', 63).notNullable();
    t.string('station', 63).notNullable();
    t.string('model', 128).notNullable();
    t.string('lot', 128).notNullable();
    t.string('firmware_version', 64).notNullable();
    t.string('certificate_serial', 42).notNullable();
    t.bigInteger('at').notNullable();
    t.index(['station', 'at']);
    t.index(['device_serial']);
  });
}

export async function down(db: Knex): Promise<void> {
  for (const table of ['manufacturing_records', 'devices', 'stations']) await db.schema.dropTableIfExists(table);
}
