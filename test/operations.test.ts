import { sql } from '../src/store/handle.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Router } from 'express';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { sqliteBackend } from './helpers/backends.js';
import { startInProcess, type InProcessHallmark } from './helpers/in-process.js';
import { opensslCsr } from './helpers/csr.js';
import { hallmark, hallmarkJson } from './helpers/cli.js';
import { mustRun, run } from './helpers/run.js';
import { describedVersusServed, servedRoutes } from '../src/http/openapi.js';
import { toPem } from '../src/x509/pem.js';

let home: TestHome;
let hm: InProcessHallmark;
let env: NodeJS.ProcessEnv;
const backend = sqliteBackend();
before(async () => {
  home = await makeTestHome(['ops']);
  hm = await startInProcess(home, backend, 'ops');
  env = { ...home.env, HALLMARK_HOME: path.join(home.home, 'data-ops'), HALLMARK_PKCS11_TOKEN: 'ops' };
});
after(async () => {
  await hm?.close();
  home?.cleanup();
});

const metricsText = async () => {
  const r = await fetch(`http://127.0.0.1:${hm.running.http}/metrics`);
  assert.equal(r.status, 200);
  return r.text();
};
const value = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(series + ' ') || l.startsWith(series.replace(/}$/, ',')) );
  return line ? Number(line.split(' ').pop()) : 0;
};

describe('metrics', () => {
  test('counters move when certificates are issued and revoked, and OCSP cache hits are counted', async () => {
    const before = await metricsText();
    const dir = fs.mkdtempSync(path.join(home.home, 'm-'));
    const { csrPem } = await opensslCsr(dir);
    const issued = await hm.request('POST', 'certificates', { token: hm.init.admin.apiKey, body: { csr: csrPem, profile: 'device', device: 'metric-1' } });
    assert.equal(issued.status, 201);
    const revoked = await hm.request('POST', `certificates/${issued.json().serial}/revoke`, { token: hm.init.admin.apiKey, body: { reason: 'keyCompromise' } });
    assert.equal(revoked.status, 200);
    const certFile = path.join(dir, 'c.pem');
    const issuingFile = path.join(dir, 'i.pem');
    fs.writeFileSync(certFile, issued.json().certificate);
    fs.writeFileSync(issuingFile, toPem(hm.running.issue.issuers.get('issuing').certificate, 'CERTIFICATE'));
    // A SHA-256 CertID: never answered from the pre-signed set (RFC 5019 §2.1.1 is SHA-1), so cached by request.
    const ask = () => run('openssl', ['ocsp', '-sha256', '-issuer', issuingFile, '-cert', certFile, '-url', `http://127.0.0.1:${hm.running.http}/ocsp`, '-no_nonce', '-noverify']);
    await ask();
    // The status look finds the revocation made here in the store: already acted on, it drops nothing.
    await hm.running.poll();
    for (let i = 0; i < 2; i++) await ask();
    const after = await metricsText();
    assert.equal(value(after, 'hallmark_certificates_issued_total{profile="device",outcome="issued"}') - value(before, 'hallmark_certificates_issued_total{profile="device",outcome="issued"}'), 1);
    assert.equal(value(after, 'hallmark_certificates_revoked_total{reason="keyCompromise"}') - value(before, 'hallmark_certificates_revoked_total{reason="keyCompromise"}'), 1);
    assert.equal(value(after, 'hallmark_ocsp_cache_total{outcome="hit"}') - value(before, 'hallmark_ocsp_cache_total{outcome="hit"}'), 2);
    assert.match(after, /hallmark_hsm_sign_duration_seconds_count \d+/);
    assert.match(after, /hallmark_crl_age_seconds\{ca="issuing"\} \d/);
    assert.match(after, /hallmark_process_resident_memory_bytes/);
  });

  test('/metrics answers only the configured addresses', async () => {
    const allow = hm.ctx.config.operations.metrics.allowFrom;
    const saved = [...allow];
    allow.splice(0, allow.length, '192.0.2.1');
    try {
      const r = await fetch(`http://127.0.0.1:${hm.running.http}/metrics`);
      assert.equal(r.status, 403);
    } finally {
      allow.splice(0, allow.length, ...saved);
    }
  });
});

describe('health, logs, API description', () => {
  test('/healthz and /readyz', async () => {
    assert.equal((await fetch(`http://127.0.0.1:${hm.running.http}/healthz`)).status, 200);
    const ready = await fetch(`http://127.0.0.1:${hm.running.http}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(((await ready.json()) as { checks: unknown }).checks, { database: 'ok', 'database write': 'ok', schema: 'ok', token: 'ok', crl: 'ok' });
    // The write check really wrote: this instance's heartbeat row.
    assert.ok(await sql(hm.ctx.store)('health').first(), 'the readiness write is in the health table');
  });

  test('one JSON line per request with a request id and the principal, and no secret', async () => {
    const r = await hm.request('GET', 'cas', { token: hm.init.admin.apiKey });
    const id = String(r.headers['x-request-id']);
    assert.match(id, /^[0-9a-f-]{36}$/);
    // The line is written when the server's response finishes, which can come after the client has it.
    const find = () => hm.log.map((l) => { try { return JSON.parse(l); } catch { return undefined; } }).find((l) => l?.requestId === id);
    for (let i = 0; i < 50 && !find(); i++) await new Promise((r) => setTimeout(r, 20));
    const line = find();
    assert.ok(line, 'a log line for the request');
    assert.equal(line.msg, 'request');
    assert.equal(line.status, 200);
    assert.match(line.principal, /^apikey:[0-9a-f]{16}$/);
    assert.ok(!hm.log.join('\n').includes(hm.init.admin.apiKey.slice(21)), 'no API key secret in the log');
  });

  test('the OpenAPI document describes exactly the routes that are served', async () => {
    const doc = (await hm.request('GET', 'openapi.json')).json();
    assert.equal(doc.openapi, '3.1.0');
    const { undescribed, unserved } = describedVersusServed(doc, hm.running.servedRoutes);
    assert.deepEqual(undescribed, []);
    assert.deepEqual(unserved, []);
    assert.ok(hm.running.servedRoutes.length >= 20);
    for (const ops of Object.values(doc.paths) as Record<string, { summary: string }>[]) for (const op of Object.values(ops)) assert.ok(op.summary.length > 3);
  });

  test('the check fails when a route is added without being described', async () => {
    const doc = (await hm.request('GET', 'openapi.json')).json();
    const router = Router();
    router.get('/cas', () => {});
    router.post('/certificates/:serial/explode', () => {});
    const { undescribed } = describedVersusServed(doc, servedRoutes(router as never, '/api/v1'));
    assert.deepEqual(undescribed, ['POST /api/v1/certificates/:serial/explode']);
  });
});

describe('CLI experience', () => {
  test('hallmark status --json reflects a freshly initialised CA', async () => {
    const status = await hallmarkJson(env, 'status');
    assert.equal(status.initialised, true);
    assert.deepEqual(status.cas.map((c: { name: string }) => c.name).sort(), ['issuing', 'root']);
    assert.ok(status.cas.every((c: { daysLeft: number }) => c.daysLeft > 1000));
    assert.equal(status.token.state, 'logged in, all CA keys present');
    assert.ok(status.crls.every((c: { fresh: boolean }) => c.fresh));
    const table = await hallmark(env, 'status');
    assert.match(table.stdout, /certificates: \d+ active/);
  });

  test('cert issue --dir issues a directory of CSRs with progress on stderr and a per-file report', async () => {
    const dir = fs.mkdtempSync(path.join(home.home, 'bulk-'));
    for (let i = 0; i < 5; i++) await mustRun('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(dir, `d${i}.key`), '-subj', `/CN=bulk-${i}`, '-out', path.join(dir, `d${i}.csr`)]);
    fs.writeFileSync(path.join(dir, 'broken.csr'), 'not a request');
    const people = await hallmark(env, 'cert', 'issue', '--dir', dir, '--profile', 'device');
    assert.equal(people.code, 1, 'one refused');
    assert.match(people.stderr, /issuing: 6\/6/);
    assert.match(people.stderr, /5 issued, 1 refused/);
    assert.ok(fs.existsSync(path.join(dir, 'd0.crt')));
    assert.match(await mustRun('openssl', ['x509', '-in', path.join(dir, 'd3.crt'), '-noout', '-subject']), /CN ?= ?bulk-3/);
  });

  test('bash completion script is valid bash', async () => {
    const r = await hallmark(env, 'completion', 'bash');
    assert.equal(r.code, 0);
    assert.match(r.stdout, /complete -o default -F _hallmark hallmark/);
    const file = path.join(home.home, 'completion.bash');
    fs.writeFileSync(file, r.stdout);
    await mustRun('bash', ['-n', file]);
    // What bash offers, asked the way bash asks: every command, a command's verbs, a verb's options.
    const offered = async (...words: string[]) =>
      (await mustRun('bash', ['-c', `source ${file}; COMP_WORDS=(hallmark ${words.join(' ')}); COMP_CWORD=${words.length}; _hallmark; printf '%s\\n' "\${COMPREPLY[@]}"`])).trim().split('\n');
    const commands = await offered('');
    for (const c of ['init', 'serve', 'status', 'ca', 'cert', 'crl', 'station', 'device', 'token', 'enrollment', 'apikey', 'operator', 'audit', 'security', 'lint', 'completion', 'help']) assert.ok(commands.includes(c), `completes ${c}`);
    const caVerbs = await offered('ca', '');
    for (const v of ['list', 'show', 'export', 'rollover', 'revoke', 'reissue']) assert.ok(caVerbs.includes(v), `completes ca ${v}`);
    assert.deepEqual((await offered('ca', 'rollover', '--')).sort(), ['--at', '--help', '--json']);
    assert.ok((await offered('cert', 'list', '--')).includes('--issuer'));
  });
});
