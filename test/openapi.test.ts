import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { sqliteBackend } from './helpers/backends.js';
import { opensslCsr } from './helpers/csr.js';
import { answerFor, evidence, makeKey, makeTpm, type Tpm } from './helpers/swtpm.js';
import { configCopy, startInProcess, type InProcessHallmark, type Response } from './helpers/in-process.js';
import { addStation } from '../src/factory/stations.js';
import { createOperator } from '../src/auth/operators.js';
import { createEnrollmentToken } from '../src/auth/enrollment-tokens.js';
import { totpCode } from '../src/auth/totp.js';
import { createApiKey } from '../src/auth/api-keys.js';
import { PERMISSIONS } from '../src/auth/permissions.js';
import { createSigner } from '../src/signing/signers.js';

/**
 * The OpenAPI description says what every route takes and answers (schemas made from the zod schemas
 * the handlers parse and answers.ts); here real answers, from a real server, are held to it, route by
 * route, and every described route must have been tried.
 */

let home: TestHome;
let hm: InProcessHallmark;
let doc: any;
const ajv = new Ajv2020({ strict: false, allErrors: true, formats: { 'date-time': true, uri: true } });
const checked = new Set<string>();

let tpm: Tpm;

before(async () => {
  home = await makeTestHome(['openapi']);
  // A software TPM, for the attested enrollment routes.
  tpm = await makeTpm(home.home, 'oa-tpm');
  await makeKey(tpm, 'device');
  // A label that holds enrollments for approval, to try the approve and reject routes; one for TPM-attested enrollment.
  const configFile = configCopy(path.join(home.home, 'config'), (c) => {
    c.est = { ...(c.est ?? {}), labels: { ...(c.est?.labels ?? {}), held: { profile: 'device', enroll: ['token'], manualApproval: true }, tpm: { profile: 'device-tpm', enroll: ['token'] } } };
    c.attestation = { tpmRoots: tpm.soft.caFiles };
  });
  hm = await startInProcess(home, sqliteBackend(), 'openapi', { configFile });
  doc = (await hm.request('GET', 'openapi.json')).json();
});
after(async () => {
  await hm?.close();
  await tpm?.soft.stop();
  home?.cleanup();
});

/** The described answer for this route and status; fails when the answer's status is not the described one. */
function holdToDescription(method: string, described: string, r: Response): void {
  const operation = doc.paths[`/api/v1${described}`]?.[method.toLowerCase()];
  assert.ok(operation, `${method} ${described} is described`);
  const expected = Object.keys(operation.responses).find((s) => /^\d{3}$/.test(s))!;
  assert.equal(String(r.status), expected, `${method} ${described}: ${r.body}`);
  const schema = operation.responses[expected].content?.['application/json']?.schema;
  if (schema) {
    const validate = ajv.compile(schema);
    assert.ok(validate(r.json()), `${method} ${described} answer does not match its description: ${ajv.errorsText(validate.errors)}\n${r.body.slice(0, 600)}`);
  } else assert.equal(r.body, '', `${method} ${described} answers no body`);
  checked.add(`${method.toUpperCase()} ${described}`);
}

async function call(method: string, described: string, actual: string, options: Parameters<InProcessHallmark['request']>[2] = {}): Promise<Response> {
  const r = await hm.request(method, actual.slice(1), options);
  holdToDescription(method, described, r);
  return r;
}

describe('the OpenAPI description and the answers', () => {
  test('every request example is accepted by its schema; every body and answer has a real schema', () => {
    for (const [p, ops] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(ops)) {
        const body = op.requestBody?.content?.['application/json'];
        if (body) {
          assert.notDeepEqual(body.schema, { type: 'object' }, `${method} ${p}: a request schema`);
          if (body.example) assert.ok(ajv.compile(body.schema)(body.example), `${method} ${p}: its example fits its schema`);
        }
        const status = Object.keys(op.responses).find((s) => /^\d{3}$/.test(s));
        assert.ok(status, `${method} ${p}: a success status`);
        if (status !== '204') assert.ok(op.responses[status!].content?.['application/json']?.schema?.type, `${method} ${p}: an answer schema`);
      }
    }
  });

  test('real answers of every route match the description', async () => {
    const token = hm.init.admin.apiKey;
    // High-impact routes (API keys, checkpoints) take an admin's session, not the bootstrap key.
    const password = 'a long enough passphrase 1';
    const op = await createOperator(hm.ctx.store, hm.running.plane.sealer, { name: 'oa-op', role: 'admin', password, createdBy: 'test', now: new Date() });
    const session = (await call('POST', '/sessions', '/sessions', { body: { name: 'oa-op', password, totp: totpCode(op.totpSecret, new Date()) } })).json();
    const dir = fs.mkdtempSync(path.join(home.home, 'oa-'));

    await call('GET', '/whoami', '/whoami', { token });
    await call('GET', '/cas', '/cas', { token });
    await call('GET', '/cas/{name}', '/cas/issuing', { token });

    const { csrPem } = await opensslCsr(dir, { subject: '/CN=oa-1' });
    const issued = (await call('POST', '/certificates', '/certificates', { token, body: { csr: csrPem, profile: 'device', device: 'oa-1' } })).json();
    await call('GET', '/certificates', '/certificates', { token });
    await call('GET', '/certificates/{serial}', `/certificates/${issued.serial}`, { token });
    await call('POST', '/certificates/{serial}/allow-renewal', `/certificates/${issued.serial}/allow-renewal`, { token });
    await call('POST', '/certificates/{serial}/revoke', `/certificates/${issued.serial}/revoke`, { token, body: { reason: 'certificateHold' } });
    await call('POST', '/certificates/{serial}/release', `/certificates/${issued.serial}/release`, { token });

    // Changes that mint or remove credentials ask a session for a fresh code each (test/management.test.ts);
    // an admin key scoped for everything is not interactive and makes them in a row.
    const scoped = (await createApiKey(hm.ctx.store, { role: 'admin', scopes: [...PERMISSIONS], createdBy: 'test', now: new Date() })).apiKey;
    const key = (await call('POST', '/apikeys', '/apikeys', { token: scoped, body: { role: 'read-only', label: 'oa', expiresInDays: 1 } })).json();
    await call('GET', '/apikeys', '/apikeys', { token: session.token });
    await call('DELETE', '/apikeys/{id}', `/apikeys/${key.id}`, { token: scoped });

    await call('POST', '/operators', '/operators', { token: scoped, body: { name: 'oa-new', role: 'read-only', password: 'another long passphrase' } });
    await call('GET', '/operators', '/operators', { token: scoped });
    await call('POST', '/operators/{name}/reset-totp', '/operators/oa-new/reset-totp', { token: scoped });
    await call('POST', '/operators/{name}/disable', '/operators/oa-new/disable', { token: scoped });
    await call('POST', '/tokens', '/tokens', { token, body: { lot: 'OA-LOT', count: 2 } });
    await call('GET', '/tokens', '/tokens?lot=OA-LOT', { token });
    const made = (await call('POST', '/tokens', '/tokens', { token, body: { device: 'oa-single' } })).json();
    await call('DELETE', '/tokens/{id}', `/tokens/${made.tokens[0].id}`, { token });
    await call('DELETE', '/token-lots/{lot}', '/token-lots/OA-LOT', { token });
    await call('POST', '/stations', '/stations', { token, body: { name: 'oa-st2', line: 'oa-line' } });

    const station = await addStation({ store: hm.ctx.store, audit: hm.ctx.audit, issue: hm.running.issue }, { name: 'oa-st', line: 'oa-line', profiles: ['device'], quotaPerHour: 100, actor: 'test', dir });
    const device = async (serial: string) => ({ deviceSerial: serial, model: 'M1', lot: 'L1', firmwareVersion: '1', csr: (await opensslCsr(dir, { subject: `/CN=${serial}` })).csrPem });
    await call('POST', '/factory/provision', '/factory/provision', { token: station.apiKey, body: await device('OA-1') });
    await call('POST', '/factory/provision/batch', '/factory/provision/batch', { token: station.apiKey, body: { devices: [await device('OA-2'), { deviceSerial: 'OA-3', model: 'M1', lot: 'L1', firmwareVersion: '1', keygen: true }, { deviceSerial: 'bad' }] } });
    await call('GET', '/devices', '/devices', { token });
    await call('GET', '/devices/{serial}', '/devices/OA-1', { token });
    await call('POST', '/devices/{serial}/reprovision', '/devices/OA-1/reprovision', { token });
    await call('GET', '/stations', '/stations', { token });
    await call('POST', '/stations/{name}/disable', '/stations/oa-st/disable', { token: scoped });

    const secret = (await createEnrollmentToken(hm.ctx.store, { device: 'oa-dev', expiresAt: new Date(Date.now() + 3_600_000), createdBy: 'test', now: new Date() })).secret;
    const enrolling = await opensslCsr(dir, { subject: '/CN=oa-dev' });
    const enrolled = (await call('POST', '/enroll', '/enroll', { body: { device: 'oa-dev', secret, csr: enrolling.csrPem } })).json();
    const renewing = await opensslCsr(dir, { subject: '/CN=oa-dev/O=Hallmark Devices' });
    await call('POST', '/certificates/{serial}/allow-renewal', `/certificates/${enrolled.serial}/allow-renewal`, { token });
    await call('POST', '/renew', '/renew', { cert: enrolled.certificate + enrolled.chain.join(''), key: fs.readFileSync(enrolling.keyFile, 'utf8'), body: { csr: renewing.csrPem } });
    await call('GET', '/enrollments', '/enrollments', { token });
    const held = async (device: string) => {
      const secret = (await createEnrollmentToken(hm.ctx.store, { device, label: 'held', expiresAt: new Date(Date.now() + 3_600_000), createdBy: 'test', now: new Date() })).secret;
      const r = await hm.request('POST', 'enroll', { body: { device, secret, label: 'held', csr: (await opensslCsr(dir, { subject: `/CN=${device}` })).csrPem } });
      assert.equal(r.status, 202, r.body);
      return r.json().id as string;
    };
    await call('POST', '/enrollments/{id}/approve', `/enrollments/${await held('oa-held-1')}/approve`, { token, body: {} });
    await call('POST', '/enrollments/{id}/reject', `/enrollments/${await held('oa-held-2')}/reject`, { token, body: { reason: 'unknown device' } });

    // TPM-attested enrollment: a station's challenge (not answered here), then a device's, answered with tpm2-tools.
    const tpmStation = await addStation({ store: hm.ctx.store, audit: hm.ctx.audit, issue: hm.running.issue }, { name: 'oa-st-tpm', line: 'oa-line', profiles: ['device-tpm'], quotaPerHour: 100, actor: 'test', dir });
    await call('POST', '/factory/attestation/challenges', '/factory/attestation/challenges', { token: tpmStation.apiKey, body: { deviceSerial: 'OA-T1', ...evidence(tpm, 'device') } });
    const tpmSecret = (await createEnrollmentToken(hm.ctx.store, { device: 'oa-tpm-dev', label: 'tpm', expiresAt: new Date(Date.now() + 3_600_000), createdBy: 'test', now: new Date() })).secret;
    const tpmChallenge = (await call('POST', '/attestation/challenges', '/attestation/challenges', { body: { device: 'oa-tpm-dev', secret: tpmSecret, label: 'tpm', ...evidence(tpm, 'device') } })).json();
    await call('POST', '/attestation/enroll', '/attestation/enroll', { body: { device: 'oa-tpm-dev', secret: tpmSecret, label: 'tpm', ...(await answerFor(tpm, tpmChallenge, 'device')) } });


    await createSigner({ store: hm.ctx.store, audit: hm.ctx.audit, keys: hm.ctx.keys!, issue: hm.running.issue, tokenLabel: hm.ctx.env.tokenLabel }, { name: 'oa-fw', requester: { kind: 'cli' }, actor: 'test' });
    await call('GET', '/signers', '/signers', { token });
    await call('GET', '/signers/{name}', '/signers/oa-fw', { token });
    const release = (await call('POST', '/signers/{name}/signatures', '/signers/oa-fw/signatures', { token: scoped, body: { digestAlgorithm: 'sha256', digest: 'ab'.repeat(32), product: 'oa', version: '1', format: 'raw' } })).json();
    await createSigner({ store: hm.ctx.store, audit: hm.ctx.audit, keys: hm.ctx.keys!, issue: hm.running.issue, tokenLabel: hm.ctx.env.tokenLabel }, { name: 'oa-two', twoPerson: true, requester: { kind: 'cli' }, actor: 'test' });
    // 202 (waiting for approval) is the route's other answer, described in words: asked directly.
    const waiting = (await hm.request('POST', 'signers/oa-two/signatures', { token: scoped, body: { digestAlgorithm: 'sha256', digest: 'cd'.repeat(32), product: 'oa2', version: '1' } })).json();
    await call('POST', '/releases/{id}/approve', `/releases/${waiting.id}/approve`, { token: session.token });
    await call('GET', '/releases', '/releases', { token });
    await call('GET', '/releases/{id}', `/releases/${release.id}`, { token });
    const rejecting = (await hm.request('POST', 'signers/oa-two/signatures', { token: scoped, body: { digestAlgorithm: 'sha256', digest: 'ef'.repeat(32), product: 'oa2', version: '2' } })).json();
    await call('POST', '/releases/{id}/reject', `/releases/${rejecting.id}/reject`, { token: scoped, body: { reason: 'not reviewed' } });
    // Signer keys are a person's decision: a session, with a fresh code each (one person per call here,
    // since a code is good once and the clock is real).
    const person = async (name: string) => {
      const op = await createOperator(hm.ctx.store, hm.running.plane.sealer, { name, role: 'admin', password, createdBy: 'test', now: new Date() });
      const login = (await hm.request('POST', 'sessions', { body: { name, password, totp: totpCode(op.totpSecret, new Date()) } })).json();
      return { token: login.token as string, headers: { 'x-hallmark-totp': totpCode(op.totpSecret, new Date(Date.now() + 30_000)) } };
    };
    await call('POST', '/signers', '/signers', { ...(await person('oa-p1')), body: { name: 'oa-new-fw' } });
    await call('POST', '/signers/{name}/rollover', '/signers/oa-new-fw/rollover', { ...(await person('oa-p2')), body: { overlapDays: 7 } });
    await call('POST', '/signers/{name}/revoke', '/signers/oa-new-fw/revoke', { token: scoped, body: { reason: 'keyCompromise' } });
    await call('POST', '/signers/{name}/retire', '/signers/oa-new-fw/retire', { token: scoped });

    await call('GET', '/overview', '/overview', { token });
    await call('GET', '/charts', '/charts', { token });
    await call('GET', '/audit', '/audit', { token });
    await call('POST', '/audit/checkpoint', '/audit/checkpoint', { token: session.token });
    await call('GET', '/audit/verify', '/audit/verify', { token });
    await call('GET', '/openapi.json', '/openapi.json', {});
    const refreshed = (await call('POST', '/sessions/refresh', '/sessions/refresh', { token: session.token })).json();
    await call('DELETE', '/sessions/current', '/sessions/current', { token: refreshed.token });

    const described = Object.entries<any>(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p.replace(/^\/api\/v1/, '')}`));
    assert.deepEqual(described.filter((r) => !checked.has(r)).sort(), [], 'every described route was tried');
  });

  test('the check fails when an answer leaves its description', () => {
    const schema = doc.paths['/api/v1/cas/{name}'].get.responses['200'].content['application/json'].schema;
    assert.equal(ajv.compile(schema)({ name: 'issuing' }), false);
  });
});
