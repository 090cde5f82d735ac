/**
 * A second process writing the same database, as the CLI does while `hallmark serve` runs: appends
 * `count` audit events one transaction each (argv: home, count, and for PostgreSQL url and schema),
 * sequencing now and then as a second sequencer would, and prints how many failed.
 */
import { asStore } from '../../src/store/handle.js';
import { openDatabase } from '../../src/store/db.js';
import { createAuditLog } from '../../src/audit/log.js';

const [home, count, url, schema] = process.argv.slice(2);
const db = await openDatabase({ home: home!, url, schema });
const audit = createAuditLog(asStore(db), { now: () => new Date() });
const failures: string[] = [];
for (let i = 0; i < Number(count); i++) {
  try {
    await audit.record({ actor: `writer:${process.pid}`, action: 'test.append', target: String(i), outcome: 'success' });
    if (i % 50 === 49) await audit.sequence();
  } catch (e) {
    failures.push((e as Error).message);
  }
}
await db.destroy();
process.stdout.write(`${JSON.stringify({ failures: failures.length, first: failures[0] ?? null })}\n`);
