import { sql } from '../src/store/handle.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { BACKENDS } from './helpers/backends.js';
import { configCopy, startInProcess, type InProcessHallmark } from './helpers/in-process.js';
import { restRoutes } from '../src/app/https-app.js';
import { createApiKey, revokeApiKey } from '../src/auth/api-keys.js';
import { createOperator } from '../src/auth/operators.js';
import { totpCode } from '../src/auth/totp.js';
import { PERMISSIONS, ROLE_PERMISSIONS } from '../src/auth/permissions.js';
import type { RouteSpec } from '../src/http/routes.js';
import { sequenced } from './helpers/sequenced.js';

/** The permission table as docs/security-model.md states it, written out independently of the code. */
const EXPECTED: Record<string, string[]> = {
  admin: [...PERMISSIONS],
  operator: ['ca.read', 'cert.read', 'cert.issue', 'cert.revoke', 'station.manage', 'token.manage', 'device.read', 'audit.read', 'release.read'],
  'read-only': ['ca.read', 'cert.read', 'device.read', 'audit.read', 'release.read'],
  station: ['ca.read', 'factory.provision'],
  device: ['ca.read', 'enroll.self'],
};
const HIGH_IMPACT = ['ca.manage', 'apikey.manage', 'operator.manage', 'firmware.sign', 'signer.manage', 'release.approve'];

let home: TestHome;
before(async () => {
  home = await makeTestHome(['hallmark-sqlite', 'hallmark-postgres']);
});
after(() => home?.cleanup());

test('the permission table in code is the one docs/security-model.md documents', () => {
  assert.deepEqual(
    Object.fromEntries(Object.entries(ROLE_PERMISSIONS).map(([role, perms]) => [role, [...perms].sort()])),
    Object.fromEntries(Object.entries(EXPECTED).map(([role, perms]) => [role, [...perms].sort()])),
  );
});

const concretePath = (spec: RouteSpec) => spec.path.slice(1).replace(':serial', '00ff').replace(':name', 'issuing').replace(':id', 'ffffffffffffffff').replace(':lot', 'NO-SUCH-LOT');

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`RBAC on every REST route, ${backend.name}`, () => {
    let hm: InProcessHallmark;
    const principals: { name: string; token?: string; role?: string; session?: boolean; scoped?: boolean; invalid?: boolean }[] = [];

    before(async () => {
      // A high failure threshold: this test sends hundreds of refused requests on purpose.
      const configFile = configCopy(path.join(home.home, `config-${backend.name}`), (c) => {
        c.security.alerts.authFailures.threshold = 100_000;
        c.security.alerts.authFailures.credentialThreshold = 100_000;
      });
      hm = await startInProcess(home, backend, `hallmark-${backend.name}`, { configFile });
      const now = hm.ctx.clock.now();
      for (const role of Object.keys(EXPECTED)) {
        const key = await createApiKey(hm.ctx.store, { role: role as never, createdBy: 'test', now });
        principals.push({ name: `${role} API key`, token: key.apiKey, role });
      }
      const scoped = await createApiKey(hm.ctx.store, { role: 'admin', scopes: [...PERMISSIONS], createdBy: 'test', now });
      principals.push({ name: 'admin API key scoped for everything', token: scoped.apiKey, role: 'admin', scoped: true });
      const narrow = await createApiKey(hm.ctx.store, { role: 'admin', scopes: ['cert.read'], createdBy: 'test', now });
      principals.push({ name: 'admin API key scoped to cert.read', token: narrow.apiKey, role: 'narrow' });
      const expired = await createApiKey(hm.ctx.store, { role: 'admin', expiresAt: new Date(now.getTime() - 1000), createdBy: 'test', now });
      principals.push({ name: 'expired admin key', token: expired.apiKey, invalid: true });
      const revoked = await createApiKey(hm.ctx.store, { role: 'admin', createdBy: 'test', now });
      await revokeApiKey(hm.ctx.store, revoked.id, now);
      principals.push({ name: 'revoked admin key', token: revoked.apiKey, invalid: true });
      principals.push({ name: 'no credential' , invalid: true });

      const op = await createOperator(hm.ctx.store, hm.running.plane.sealer, { name: 'alice', role: 'admin', password: 'correct horse battery staple', createdBy: 'test', now });
      const login = await hm.request('POST', 'sessions', { body: { name: 'alice', password: 'correct horse battery staple', totp: totpCode(op.totpSecret, now) } });
      assert.equal(login.status, 201, login.body);
      principals.push({ name: 'admin operator session', token: login.json().token, role: 'admin', session: true });
    });
    after(async () => {
      await hm?.close();
      await backend.cleanup();
    });

    test('every route × every principal gets exactly what the table says', async () => {
      const routes = restRoutes(hm.ctx, hm.running.issue, hm.running.plane, hm.running.revocation);
      assert.ok(routes.length >= 14, 'all REST routes are in the list');
      let checked = 0;
      for (const spec of routes) {
        for (const p of principals) {
          // Logging out would end the session the rest of the table uses.
          if (spec.method === 'delete' && spec.path === '/sessions/current' && p.session) continue;
          const response = await hm.request(spec.method.toUpperCase(), concretePath(spec), {
            token: p.token,
            ...(spec.jsonBody ? { body: {} } : {}),
          });
          // Refresh rotates the session: carry on with the new token.
          if (spec.path === '/sessions/refresh' && p.session && response.status === 201) p.token = response.json().token;
          const where = `${spec.method.toUpperCase()} ${spec.path} as ${p.name}: ${response.status} ${response.body}`;
          assert.ok(response.status < 500, where);
          let expected: 'allowed' | 401 | 403;
          if (spec.permission === 'public') expected = 'allowed';
          else if (p.invalid) expected = 401;
          else if (spec.permission === 'authenticated') expected = 'allowed';
          else if (p.role === 'narrow') expected = spec.permission === 'cert.read' ? 'allowed' : 403;
          else if (!EXPECTED[p.role!]!.includes(spec.permission)) expected = 403;
          else if (HIGH_IMPACT.includes(spec.permission) && !p.session && !p.scoped) expected = 403;
          else if (spec.sessionOnly && !p.session) expected = 403;
          else expected = 'allowed';
          // A session passes the permission check of a high-impact change, then is asked for a fresh code.
          if (expected === 'allowed' && spec.stepUp && p.session) {
            assert.equal(response.status, 403, where);
            assert.equal(response.json().error.code, 'fresh_totp_required', where);
          } else if (expected === 'allowed') assert.ok(response.status !== 401 && response.status !== 403, where);
          else assert.equal(response.status, expected, where);
          if (expected === 401) assert.match(String(response.headers['www-authenticate']), /^Bearer realm="hallmark"/, where);
          checked++;
        }
      }
      assert.ok(checked > 150);
    });

    test('denials and authentication failures are audited with the reason, never the secret', async () => {
      const denied = await sql(await sequenced(hm.ctx.store))('audit_events').where({ action: 'auth.denied' }).count({ n: '*' });
      const failed = await sql(await sequenced(hm.ctx.store))('audit_events').where({ action: 'auth.failure' }).select('actor', 'details');
      assert.ok(Number(denied[0]!.n) > 0);
      assert.ok(failed.length > 0);
      assert.ok(failed.some((r) => /expired/.test(r.details)) && failed.some((r) => /revoked/.test(r.details)));
      const everything = JSON.stringify(await sql(await sequenced(hm.ctx.store))('audit_events').select('*'));
      for (const p of principals) {
        const secret = p.token && /^hm[ks]_[0-9a-f]+_(.+)$/.exec(p.token)![1]!;
        if (secret) assert.ok(!everything.includes(secret), `no secret of ${p.name} in the audit log`);
      }
    });
  });
}
