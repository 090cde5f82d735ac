import type { Knex } from 'knex';

/**
 * Questions asked often whose answers are a handful of rows among millions.
 *
 * Three of the certificates table, with partial indexes, so issuing a device certificate (a profile
 * of its own, no status change yet) adds nothing to them; SQLite and PostgreSQL both have partial
 * indexes.
 *
 * - The certificates Hallmark issues itself (root links, OCSP responders, its HTTPS server): EST
 *   cacerts, public and unauthenticated, lists the valid root links on every request (RFC 7030
 *   §4.1.3), the console's overview the responders and the server certificate. Those lookups were
 *   served by the (status, not_after) index, i.e. every active certificate: cacerts cost 12.8 ms of
 *   CPU a request on SQLite at 40,000 certificates. The WHERE here is repeated word for word by the
 *   queries (store/certificates.ts), which is how SQLite's planner matches a partial index.
 * - Every status poll (2 s) asks, per CA, whether a certificate changed status since its latest CRL.
 *   `max(status_changed_at) WHERE issuer = ?` read every certificate of the CA: 213 ms at a million on
 *   SQLite, holding its one connection.
 * - Every periodic check (5 min) looks for renewed certificates whose grace period is over, to revoke
 *   them. That walked every active certificate through the (status, not_after) index. This one holds
 *   renewed certificates only, and is searched by status and end of grace; the WHERE is repeated word
 *   for word by the query (store/certificates.ts).
 *
 * The certificate list, newest first (REST, `hallmark cert list`), sorted every certificate for each
 * page: an index on (created_at DESC, serial), the one of these issuance pays for (about 3%).
 *
 * And one of the audit log, which every certificate issued writes one or two rows to: the hourly summary
 * counts the last hour's events of a few actions (alerts/periodic.ts), and the console the last day's
 * alerts. The index on action alone walked every event of the action ever written (every issuance
 * for the count of certificates issued). Action and time together replace it: the same number of
 * index entries per event.
 */
export async function up(db: Knex): Promise<void> {
  await db.raw(`CREATE INDEX certificates_internal ON certificates (profile) WHERE profile IN ('link', 'ocsp-signer', 'tls-server')`);
  await db.raw(`CREATE INDEX certificates_status_changes ON certificates (issuer, status_changed_at) WHERE status_changed_at IS NOT NULL`);
  await db.raw(`CREATE INDEX certificates_superseded ON certificates (status, superseded_at) WHERE superseded_by IS NOT NULL`);
  await db.raw(`CREATE INDEX certificates_newest ON certificates (created_at DESC, serial)`);
  await db.schema.alterTable('audit_events', (t) => {
    t.dropIndex(['action']);
    t.index(['action', 'at']);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.raw('DROP INDEX certificates_internal');
  await db.raw('DROP INDEX certificates_status_changes');
  await db.raw('DROP INDEX certificates_superseded');
  await db.raw('DROP INDEX certificates_newest');
  await db.schema.alterTable('audit_events', (t) => {
    t.dropIndex(['action', 'at']);
    t.index(['action']);
  });
}
