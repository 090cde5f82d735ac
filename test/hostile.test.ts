import { sql } from '../src/store/handle.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import fc from 'fast-check';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { sqliteBackend } from './helpers/backends.js';
import { configCopy, startInProcess, type InProcessHallmark } from './helpers/in-process.js';
import { createApiKey } from '../src/auth/api-keys.js';
import { addStation } from '../src/factory/stations.js';
import { opensslCsr } from './helpers/csr.js';
import { mustRun } from './helpers/run.js';
import { damagedDer, damagedText, hostileJson } from './helpers/hostile.js';
import { verifyCsr } from '../src/x509/csr.js';
import { isHallmarkError } from '../src/base/errors.js';
import { parseOcspRequest, MalformedOcspRequest } from '../src/x509/ocsp.js';
import { toPem } from '../src/x509/pem.js';

/** Inputs per route in the suite; `scripts/fuzz.sh` runs the same with HALLMARK_FUZZ_RUNS raised. */
const RUNS = Number(process.env.HALLMARK_FUZZ_RUNS ?? 120);

let home: TestHome;
let hm: InProcessHallmark;
let goodCsrDer: Uint8Array;
let goodCsrPem: string;
let goodOcsp: Uint8Array;
const tried: Record<string, number> = {};
const keys: Record<string, string> = {};
before(async () => {
  home = await makeTestHome(['hostile']);
  // Fuzzing sends thousands of refused requests from one address: no blocking or rate limits here.
  const configFile = configCopy(path.join(home.home, 'config'), (c) => {
    c.security.alerts.authFailures.threshold = 10_000_000;
    c.security.rateLimits = { auth: 0, enrollment: 0, provisioning: 0 };
  });
  hm = await startInProcess(home, sqliteBackend(), 'hostile', { configFile });
  keys.scopedAdmin = (await createApiKey(hm.ctx.store, { role: 'admin', scopes: ['apikey.manage'], createdBy: 'test', now: new Date() })).apiKey;
  keys.station = (await addStation({ store: hm.ctx.store, audit: hm.ctx.audit, issue: hm.running.issue }, { name: 'fuzz-station', line: 'fuzz', profiles: ['device'], quotaPerHour: 1_000_000, actor: 'test', dir: home.home })).apiKey;
  const dir = fs.mkdtempSync(path.join(home.home, 'h-'));
  const csr = await opensslCsr(dir, { subject: '/CN=fuzz-device' });
  goodCsrPem = csr.csrPem;
  goodCsrDer = new Uint8Array(Buffer.from(goodCsrPem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64'));
  const issued = await hm.request('POST', 'certificates', { token: hm.init.admin.apiKey, body: { csr: goodCsrPem, profile: 'device', device: 'fuzz-device' } });
  const certFile = path.join(dir, 'c.pem');
  fs.writeFileSync(certFile, issued.json().certificate);
  fs.writeFileSync(path.join(dir, 'i.pem'), toPem(hm.running.issue.issuers.get('issuing').certificate, 'CERTIFICATE'));
  await mustRun('openssl', ['ocsp', '-issuer', path.join(dir, 'i.pem'), '-cert', certFile, '-reqout', path.join(dir, 'r.der')]);
  goodOcsp = new Uint8Array(fs.readFileSync(path.join(dir, 'r.der')));
});
after(async () => {
  console.log(`hostile inputs tried per target: ${JSON.stringify(tried)}`);
  await hm?.close();
  home?.cleanup();
});

const count = async () => Number((await sql(hm.ctx.store)('certificates').count({ n: '*' }))[0]!.n);

function send(options: { listener: 'https' | 'http'; method: string; path: string; body?: Uint8Array; type?: string; token?: string; user?: string }): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {};
    if (options.body) {
      headers['content-length'] = options.body.length;
      if (options.type) headers['content-type'] = options.type;
    }
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.user) headers.authorization = `Basic ${Buffer.from(options.user).toString('base64')}`;
    const common = { host: '127.0.0.1', method: options.method, path: options.path, headers, agent: false };
    const onResponse = (res: http.IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks) }));
    };
    const req =
      options.listener === 'https'
        ? https.request({ ...common, port: hm.running.https, servername: 'localhost', ca: hm.rootPem }, onResponse)
        : http.request({ ...common, port: hm.running.http }, onResponse);
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('hostile input: every answer is a 4xx or the protocol\'s own error, nothing is written, and the server keeps serving', () => {
  test('parsers: damaged CSRs and OCSP requests are refused with Hallmark\'s own errors, never anything else', async () => {
    await fc.assert(
      fc.asyncProperty(damagedDer(goodCsrDer), async (der) => {
        tried['csr parser'] = (tried['csr parser'] ?? 0) + 1;
        try {
          await verifyCsr(der);
          // A damaged request that still verifies would have to be a different valid request: allowed.
        } catch (e) {
          assert.ok(isHallmarkError(e) && e.status === 400, `unexpected ${(e as Error).stack}`);
        }
      }),
      { numRuns: RUNS },
    );
    fc.assert(
      fc.property(damagedDer(goodOcsp), (der) => {
        tried['ocsp parser'] = (tried['ocsp parser'] ?? 0) + 1;
        try {
          parseOcspRequest(der);
        } catch (e) {
          assert.ok(e instanceof MalformedOcspRequest, `unexpected ${(e as Error).stack}`);
        }
      }),
      { numRuns: RUNS },
    );
  });

  // Each with a credential that gets past authorization, so the bodies are what is tested.
  const jsonRoutes: [string, string, string | undefined][] = [
    ['POST', '/api/v1/certificates', 'admin'],
    ['POST', '/api/v1/sessions', undefined],
    ['POST', '/api/v1/enroll', undefined],
    ['POST', '/api/v1/apikeys', 'scopedAdmin'],
    ['POST', '/api/v1/factory/provision', 'station'],
    ['POST', '/api/v1/factory/provision/batch', 'station'],
    ['POST', '/api/v1/certificates/0123/revoke', 'admin'],
  ];
  for (const [method, route, auth] of jsonRoutes) {
    test(`${method} ${route}: generated JSON, invalid UTF-8, wrong content types, deep nesting`, async () => {
      const before = await count();
      await fc.assert(
        fc.asyncProperty(hostileJson(), async ({ body, type }) => {
          tried[route] = (tried[route] ?? 0) + 1;
          const token = auth === 'admin' ? hm.init.admin.apiKey : auth ? keys[auth] : undefined;
          const r = await send({ listener: 'https', method, path: route, body, type, token });
          assert.ok(r.status >= 400 && r.status < 500, `${route} answered ${r.status}: ${r.body.toString().slice(0, 200)}`);
        }),
        { numRuns: RUNS },
      );
      assert.equal(await count(), before, 'nothing written');
    });
  }

  test('EST simpleenroll: damaged base64 and DER', async () => {
    const before = await count();
    const b64 = Buffer.from(goodCsrDer).toString('base64');
    await fc.assert(
      fc.asyncProperty(fc.oneof(damagedText(b64), damagedDer(goodCsrDer).map((d) => Buffer.from(d).toString('base64'))), async (text) => {
        tried['est simpleenroll'] = (tried['est simpleenroll'] ?? 0) + 1;
        const r = await send({ listener: 'https', method: 'POST', path: '/.well-known/est/simpleenroll', body: new TextEncoder().encode(text), type: 'application/pkcs10', user: 'fuzz-device:hmt.notasecret' });
        assert.ok(r.status >= 400 && r.status < 500, `EST answered ${r.status}: ${r.body.toString().slice(0, 200)}`);
      }),
      { numRuns: RUNS },
    );
    assert.equal(await count(), before);
  });

  test('OCSP over HTTP: damaged requests get malformedRequest (or 4xx), GET and POST', async () => {
    const malformed = Buffer.from([0x30, 0x03, 0x0a, 0x01, 0x01]);
    await fc.assert(
      fc.asyncProperty(damagedDer(goodOcsp), fc.boolean(), async (der, viaGet) => {
        tried.ocsp = (tried.ocsp ?? 0) + 1;
        const r = viaGet
          ? await send({ listener: 'http', method: 'GET', path: `/ocsp/${encodeURIComponent(Buffer.from(der).toString('base64'))}` })
          : await send({ listener: 'http', method: 'POST', path: '/ocsp', body: der, type: 'application/ocsp-request' });
        if (r.status === 200) {
          // A damage that still parses is a different request: any well-formed OCSP answer is fine.
          assert.ok(r.body[0] === 0x30, 'an OCSPResponse');
          if (r.body.length === 5) assert.ok([1, 6].includes(r.body[4]!) || r.body.equals(malformed));
        } else assert.ok(r.status >= 400 && r.status < 500, `OCSP answered ${r.status}`);
      }),
      { numRuns: RUNS },
    );
  });

  test('the server still answers good requests afterwards', async () => {
    const ok = await hm.request('GET', 'cas', { token: hm.init.admin.apiKey });
    assert.equal(ok.status, 200);
    const ocsp = await send({ listener: 'http', method: 'POST', path: '/ocsp', body: goodOcsp, type: 'application/ocsp-request' });
    assert.equal(ocsp.status, 200);
    assert.ok(ocsp.body.length > 100, 'a signed response');
  });
});
