import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { BACKENDS, sqliteBackend } from './helpers/backends.js';
import { craftEcCsr } from './helpers/crafted-csr.js';
import { cliEnv, hallmark, hallmarkJson } from './helpers/cli.js';
import { mustRun, run } from './helpers/run.js';
import { startServer, type RunningServer } from './helpers/server.js';
import { CLI } from './helpers/paths.js';
import { configCopy } from './helpers/in-process.js';
import { until } from './helpers/until.js';

/**
 * `hallmark serve --workers 2` (src/cluster/): two worker processes on shared listeners, on
 * PostgreSQL. Clients are curl and openssl; the workers are told apart by their request log lines. On
 * SQLite, several processes would share one write lock and issue less than one: refused.
 */
let home: TestHome;
before(async () => {
  home = await makeTestHome(['hm-workers-sqlite', 'hm-workers-postgres']);
});
after(() => home?.cleanup());

/** The worker processes of a primary (its children). */
async function workerPids(primary: number): Promise<number[]> {
  const out = await run('pgrep', ['-P', String(primary)]);
  return out.stdout.split('\n').filter(Boolean).map(Number);
}

test('on SQLite, --workers 2 is refused with the reason and where to go; --workers auto serves as one process', async () => {
  const backend = sqliteBackend();
  const env = await cliEnv(home, backend, 'hm-workers-sqlite');
  await hallmarkJson(env, 'init');
  const refused = await hallmark(env, 'serve', '--workers', '2', '--https-port', '0', '--http-port', '0', '--host', '127.0.0.1');
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /--workers needs PostgreSQL \(DATABASE_URL\)/);
  const auto = await startServer(env, ['--workers', 'auto']);
  try {
    assert.deepEqual(await workerPids(auto.process.pid!), [], 'one process, no workers');
    assert.equal((await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${auto.http}/healthz`])).stdout, '200');
  } finally {
    assert.equal(await auto.stop(), 0);
  }
});

for (const makeBackend of BACKENDS.filter((b) => b !== sqliteBackend)) {
  const backend = makeBackend();
  describe(`hallmark serve --workers 2 on ${backend.name}`, () => {
    let server: RunningServer;
    let env: NodeJS.ProcessEnv;
    let apiKey: string;
    let dir: string;
    let rootFile: string;

    before(async () => {
      env = await cliEnv(home, backend, `hm-workers-${backend.name}`);
      dir = path.join(home.home, `workers-${backend.name}`);
      fs.mkdirSync(dir);
      // A revocation burst at six, so that a test can spread one over both workers.
      env.HALLMARK_CONFIG = configCopy(path.join(dir, 'config'), (c) => {
        c.security.alerts.revocationBurst = { threshold: 6, windowSeconds: 300 };
      });
      apiKey = (await hallmarkJson(env, 'init')).admin.apiKey;
      server = await startServer(env, ['--workers', '2']);
      rootFile = path.join(dir, 'root.pem');
      await mustRun('curl', ['-sSf', '-o', `${rootFile}.der`, `http://127.0.0.1:${server.http}/ca/root.crt`]);
      await mustRun('openssl', ['x509', '-inform', 'DER', '-in', `${rootFile}.der`, '-out', rootFile]);
    });
    after(async () => {
      if (server) assert.equal(await server.stop(), 0, 'SIGTERM ends the primary and its workers cleanly');
      if (server) assert.deepEqual(await workerPids(server.process.pid!), [], 'no worker outlives the primary');
      await backend.cleanup();
    });

    /** The audit log as `hallmark audit export` writes it (a third process reading the database). */
    const auditEntries = async () => {
      const exported = path.join(dir, 'audit.jsonl');
      assert.equal((await hallmark(env, 'audit', 'export', '--out', exported)).code, 0);
      return fs
        .readFileSync(exported, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { action: string; target?: string; details?: Record<string, unknown> });
    };

    const issue = async (csrPem: string, device: string) => {
      // Bounded, so that a lost connection fails the test in a minute, not after curl's own patience.
      const result = await run('curl', ['-sS', '--max-time', '60', '--cacert', rootFile, '-H', `Authorization: Bearer ${apiKey}`, '-H', 'Content-Type: application/json', '--data-binary', '@-', '-w', '\n%{http_code}', `https://localhost:${server.https}/api/v1/certificates`], {
        input: JSON.stringify({ csr: csrPem, profile: 'device', device }),
      });
      const cut = result.stdout.lastIndexOf('\n');
      return { status: Number(result.stdout.slice(cut + 1)), body: result.stdout.slice(0, cut) };
    };

    test('two workers serve one port: concurrent issuance through both, distinct serials, one intact audit chain, whole-cluster metrics', async () => {
      assert.equal((await workerPids(server.process.pid!)).length, 2);
      // A key for each device: one public key is bound to one identity.
      const csrs = Array.from({ length: 40 }, () => ({ csrPem: craftEcCsr() }));
      // Each curl is a new connection; the primary hands connections to the workers in turn.
      const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => issue(csrs[i]!.csrPem, `worker-dev-${i}`)));
      for (const a of answers) assert.equal(a.status, 201, a.body);
      const serials = answers.map((a) => JSON.parse(a.body).serial as string);
      assert.equal(new Set(serials).size, 40);
      for (const a of answers.slice(0, 3)) {
        const cert = new X509Certificate(JSON.parse(a.body).certificate);
        assert.equal(cert.serialNumber.toLowerCase(), JSON.parse(a.body).serial);
      }
      // Both workers answered some of them (their request log lines carry their slot).
      const lines = server.log().split('\n').filter((l) => l.includes('/api/v1/certificates'));
      for (const slot of [1, 2]) assert.ok(lines.some((l) => l.includes(`"worker":${slot}`)), `worker ${slot} served none of: ${lines.length} lines`);
      // The audit chain, appended to by both workers, verifies end to end (by the CLI: a third process).
      const audit = await hallmarkJson(env, 'audit', 'verify', '--json');
      assert.equal(audit.ok, true, JSON.stringify(audit.problems));
      // /metrics answers for the whole cluster, whichever worker takes the scrape.
      for (let i = 0; i < 4; i++) {
        const text = await mustRun('curl', ['-sSf', `http://127.0.0.1:${server.http}/metrics`]);
        const issued = /^hallmark_certificates_issued_total\{profile="device",outcome="issued"\} (\d+)$/m.exec(text);
        assert.equal(Number(issued?.[1]), 40, text.slice(0, 400));
      }
    });

    test('a worker that dies is started again; service goes on meanwhile', async () => {
      const [victim, survivor] = await workerPids(server.process.pid!);
      process.kill(victim!, 'SIGKILL');
      // The survivor serves throughout, once the primary has seen the death: node:cluster's round-robin
      // loses a connection it hands to a worker in the instant that worker dies (the handoff's reply
      // never comes; a clean-clone CI run hung on one for 300 s). docs/http-api.md: clients retry.
      await until('the primary to see the worker die', async () => /worker \d died \(SIGKILL\)/.test(server.log()));
      for (let i = 0; i < 4; i++) assert.equal((await issue(craftEcCsr(), `after-kill-${i}`)).status, 201);
      await until('the worker to be replaced', async () => {
        const pids = await workerPids(server.process.pid!);
        return pids.length === 2 && !pids.includes(victim!) && pids.includes(survivor!);
      });
      await until('the new worker to serve', async () => server.log().includes('serving again'));
      assert.match(server.log(), /worker \d died \(SIGKILL\); starting it again/);
      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => issue(craftEcCsr(), `after-restart-${i}`)));
      for (const a of answers) assert.equal(a.status, 201, a.body);
    });

    test('anomaly rules count for the whole cluster: six revocations spread over both workers raise the one revocation-burst alert', async () => {
      const serials = [];
      for (let i = 0; i < 6; i++) {
        const a = await issue(craftEcCsr(), `burst-${i}`);
        assert.equal(a.status, 201, a.body);
        serials.push(JSON.parse(a.body).serial as string);
      }
      for (const serial of serials) {
        const out = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', rootFile, '-H', `Authorization: Bearer ${apiKey}`, '-H', 'Content-Type: application/json', '--data', '{"reason":"keyCompromise"}', `https://localhost:${server.https}/api/v1/certificates/${serial}/revoke`]);
        assert.equal(out.stdout, '200');
      }
      const lines = server.log().split('\n').filter((l) => l.includes('/revoke'));
      for (const slot of [1, 2]) assert.ok(lines.some((l) => l.includes(`"worker":${slot}`)), `worker ${slot} revoked none`);
      const bursts = async () => (await auditEntries()).filter((e) => e.action === 'alert' && e.target === 'revocation-burst');
      await until('the alert to be audited', async () => (await bursts()).length > 0);
      assert.equal((await bursts())[0]!.details?.count, 6);
    });

    // Last: it blocks this test's address (127.0.0.1) for the rest of the server's life.
    test('authentication failures are counted for the whole cluster: the threshold spread over both workers blocks the address on both, with one alert', async () => {
      const status = async (key: string) => {
        const out = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', rootFile, '-H', `Authorization: Bearer ${key}`, `https://localhost:${server.https}/api/v1/certificates?limit=1`]);
        return Number(out.stdout);
      };
      // The shipped threshold: 10 failures within 300 s, then 900 s of 429. One curl, one connection:
      // the primary hands them to the workers in turn, so each worker sees about half.
      for (let i = 0; i < 9; i++) assert.equal(await status(`hmk_wrong${i}`), 401);
      assert.equal(await status(apiKey), 200, 'nine failures: not blocked yet');
      assert.equal(await status('hmk_wrong-tenth'), 401);
      const lines = server.log().split('\n').filter((l) => l.includes('"status":401'));
      for (const slot of [1, 2]) assert.ok(lines.some((l) => l.includes(`"worker":${slot}`)), `worker ${slot} saw none of the failures`);
      // The block reaches both workers (a message from the primary): every new connection is refused,
      // whatever key it shows.
      await until('the block to reach both workers', async () => {
        const answers = await Promise.all(Array.from({ length: 4 }, () => status(apiKey)));
        return answers.every((s) => s === 429);
      });
      // One alert for the cluster, audited.
      const alerts = async () => (await auditEntries()).filter((e) => e.action === 'alert' && e.target === 'auth-failures');
      await until('the alert to be audited', async () => (await alerts()).length > 0);
      // A second alert, had a worker raised its own, would be written by now.
      await new Promise((r) => setTimeout(r, 500));
      const raised = await alerts();
      assert.equal(raised.length, 1, JSON.stringify(raised));
      assert.equal(raised[0]!.details?.failures, 10);
    });
  });
}

test('--workers takes a count or auto, and refuses anything else', async () => {
  const env = { ...process.env };
  for (const bad of ['0', '1.5', 'two', '65']) {
    const result = await run('node', [CLI, 'serve', '--workers', bad], { env });
    assert.equal(result.code, 2, `${bad}: ${result.stderr}`);
    assert.match(result.stderr, /--workers takes a number of processes from 1 to 64, or auto/);
  }
});
