import { sql } from '../src/store/handle.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { sqliteBackend } from './helpers/backends.js';
import { configCopy, manualClock, startInProcess, type InProcessHallmark } from './helpers/in-process.js';
import { startWebhookReceiver } from './helpers/webhook.js';
import { cnName, craftEcCsr } from './helpers/crafted-csr.js';
import { SQLITE_FILE } from '../src/store/private-home.js';

/**
 * Storage faults injected for real on SQLite: a lock held by another process past the busy timeout, a
 * full file system (tmpfs), a read-only one (remounted), and the database file removed while serving.
 * Each: 503 with a reason and Retry-After, never a 500; what lives in memory is still served; nothing
 * is returned that did not commit; service resumes when the fault clears (where it can). PostgreSQL
 * stopped is test/database-outage.test.ts.
 */

const TOKENS = ['faults-lock', 'faults-fs', 'faults-gone'];
let home: TestHome;
before(async () => {
  home = await makeTestHome(TOKENS);
});
after(() => home?.cleanup());

/** Whether this machine lets the test mount a tmpfs (root with CAP_SYS_ADMIN, as CI runs). */
function canMount(): boolean {
  const probe = fs.mkdtempSync('/tmp/hallmark-mount-probe-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    fs.rmSync(probe, { recursive: true, force: true });
  }
}

async function withServer(token: string, options: { clock?: ReturnType<typeof manualClock>; webhook?: string } = {}) {
  const configFile = configCopy(path.join(home.home, `config-${token}`), (c) => {
    if (options.webhook) c.security.alerts.webhookUrl = options.webhook;
  });
  return startInProcess(home, sqliteBackend(), token, { configFile, clock: options.clock });
}

const issue = (hm: InProcessHallmark, id: string) => hm.request('POST', 'certificates', { token: hm.init.admin.apiKey, body: { csr: craftEcCsr({ subject: cnName(id) }), profile: 'device', device: id } });
const cacerts = (hm: InProcessHallmark) => hm.request('GET', '/.well-known/est/cacerts');
const readyz = async (hm: InProcessHallmark) => {
  const r = await fetch(`http://127.0.0.1:${hm.running.http}/readyz`);
  return { status: r.status, body: (await r.json()) as { checks: Record<string, string> } };
};

/** Every certificate a client was given is in the database, active, byte for byte. */
async function allRecorded(hm: InProcessHallmark, received: { serial: string; certificate: string }[]) {
  for (const r of received) {
    const row = await sql(hm.ctx.store)('certificates').where({ serial: r.serial }).first();
    assert.equal(row?.status, 'active', r.serial);
    assert.equal(Buffer.from(row.der).toString('base64'), r.certificate.replace(/-----[A-Z ]+-----|\s/g, ''));
  }
}

function assertStorage503(r: { status: number; headers: Record<string, unknown>; body: string }, reason: RegExp) {
  assert.equal(r.status, 503, r.body);
  assert.equal(r.headers['retry-after'], '5');
  const error = JSON.parse(r.body).error;
  assert.equal(error.code, 'database_unavailable');
  assert.match(error.message, reason);
}

describe('storage faults on SQLite', () => {
  test('a write lock held by another process past the busy timeout: 503 "locked", public material served, then service resumes', async () => {
    const hm = await withServer('faults-lock');
    try {
      const received = [(await issue(hm, 'lock-1')).json()];
      assert.ok(received[0].serial);
      const file = path.join(home.home, 'data-faults-lock', SQLITE_FILE);
      // Another process takes the write lock and keeps it until told to let go (its stdin closes).
      const holder = spawn(process.execPath, ['--input-type=module', '-e', `
        import sqlite3 from 'sqlite3';
        const db = new sqlite3.Database(${JSON.stringify(file)});
        db.exec('BEGIN EXCLUSIVE', (e) => { if (e) { console.error(e.message); process.exit(1); } console.log('locked'); });
        process.stdin.on('end', () => db.exec('ROLLBACK', () => db.close(() => process.exit(0))));
        process.stdin.resume();
      `], { cwd: process.cwd(), stdio: ['pipe', 'pipe', 'inherit'] });
      process.on('exit', () => holder.kill('SIGKILL'));
      try {
        await new Promise<void>((resolve, reject) => {
          holder.stdout.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
          holder.on('exit', (code) => reject(new Error(`the lock holder exited ${code}`)));
        });
        const before = Number((await sql(hm.ctx.store)('certificates').count({ n: '*' }))[0]!.n);
        assertStorage503(await issue(hm, 'lock-2'), /locked by another process/);
        assert.equal((await cacerts(hm)).status, 200, 'EST cacerts comes from memory');
        assert.equal(Number((await sql(hm.ctx.store)('certificates').count({ n: '*' }))[0]!.n), before, 'nothing written');
      } finally {
        holder.stdin.end();
        await new Promise((resolve) => holder.once('exit', resolve));
      }
      const resumed = await issue(hm, 'lock-3');
      assert.equal(resumed.status, 201, resumed.body);
      received.push(resumed.json());
      await allRecorded(hm, received);
    } finally {
      await hm.close();
    }
  });

  test('a full file system, then a read-only database: 503 with the reason, /readyz says which check failed, service resumes when each clears', { skip: !canMount() && 'mounting a tmpfs needs root (CAP_SYS_ADMIN)' }, async () => {
    const dataHome = path.join(home.home, 'data-faults-fs');
    fs.mkdirSync(dataHome, { recursive: true, mode: 0o700 });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m,mode=0700', 'tmpfs', dataHome]);
    const clock = manualClock();
    let hm: InProcessHallmark | undefined;
    try {
      hm = await withServer('faults-fs', { clock });
      const received = [(await issue(hm, 'fs-1')).json()];
      assert.ok(received[0].serial);
      // The WAL emptied, so that the next write needs new space; then the file system filled.
      await sql(hm.ctx.store).raw('PRAGMA wal_checkpoint(TRUNCATE)');
      const filler = path.join(dataHome, 'filler');
      const fd = fs.openSync(filler, 'w');
      try {
        for (const size of [1 << 20, 1 << 12, 1]) {
          for (;;) {
            try {
              fs.writeSync(fd, Buffer.alloc(size));
            } catch {
              break;
            }
          }
        }
      } finally {
        fs.closeSync(fd);
      }
      assertStorage503(await issue(hm, 'fs-2'), /disk full|I\/O error/);
      assert.equal((await cacerts(hm)).status, 200, 'EST cacerts comes from memory');
      clock.advance(6000);
      const full = await readyz(hm);
      assert.equal(full.status, 503);
      assert.match(full.body.checks['database write']!, /refused: (disk full|I\/O error)/);
      fs.rmSync(filler);
      const afterFull = await issue(hm, 'fs-3');
      assert.equal(afterFull.status, 201, afterFull.body);
      received.push(afterFull.json());

      // Read-only: a file system cannot be remounted read-only under a file open for writing (EBUSY), so
      // SQLite itself is made read-only on the connection the server holds (SQLITE_READONLY, as for a
      // file it could only open read-only).
      await sql(hm.ctx.store).raw('PRAGMA query_only = ON');
      try {
        assertStorage503(await issue(hm, 'fs-4'), /read-only/);
        clock.advance(6000);
        const readOnly = await readyz(hm);
        assert.equal(readOnly.status, 503);
        assert.match(readOnly.body.checks['database write']!, /refused: read-only/);
      } finally {
        await sql(hm.ctx.store).raw('PRAGMA query_only = OFF');
      }
      const afterReadOnly = await issue(hm, 'fs-5');
      assert.equal(afterReadOnly.status, 201, afterReadOnly.body);
      received.push(afterReadOnly.json());
      clock.advance(6000);
      assert.equal((await readyz(hm)).status, 200);
      await allRecorded(hm, received);
    } finally {
      await hm?.close();
      execFileSync('umount', ['-l', dataHome]);
    }
  });

  test('the database file removed while serving: writes stop at once, /readyz 503, an alert, and no empty database made in its place', async () => {
    const webhook = await startWebhookReceiver();
    const hm = await withServer('faults-gone', { webhook: webhook.url });
    try {
      for (let i = 0; i < 3; i++) assert.equal((await issue(hm, `gone-${i}`)).status, 201);
      assert.equal((await cacerts(hm)).status, 200);
      const dataHome = path.join(home.home, 'data-faults-gone');
      for (const f of fs.readdirSync(dataHome).filter((f) => f.startsWith(SQLITE_FILE))) fs.rmSync(path.join(dataHome, f));
      assertStorage503(await issue(hm, 'gone-after'), /removed while in use/);
      const ready = await readyz(hm);
      assert.equal(ready.status, 503);
      assert.match(ready.body.checks.database!, /^lost: .*removed while in use/);
      const alert = await webhook.waitFor((a) => a.rule === 'database-lost');
      assert.equal(alert.severity, 'critical');
      assert.ok(hm.log.some((l) => l.includes('database lost')), 'the log says what happened');
      assert.equal((await cacerts(hm)).status, 200, 'EST cacerts comes from memory');
      for (let i = 0; i < 3; i++) assert.equal((await issue(hm, `gone-again-${i}`)).status, 503);
      assert.equal(fs.existsSync(path.join(dataHome, SQLITE_FILE)), false, 'no new, empty database in its place');
    } finally {
      await hm.close();
      await webhook.close();
    }
  });
});
