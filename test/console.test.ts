import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { BACKENDS } from './helpers/backends.js';
import { cliEnv, hallmarkJson } from './helpers/cli.js';
import { startServer, type RunningServer } from './helpers/server.js';
import { configCopy } from './helpers/in-process.js';
import { postJson } from './helpers/post-json.js';
import { deviceCsrs } from './helpers/device-csrs.js';
import { mustRun, run } from './helpers/run.js';
import { totpCode } from '../src/auth/totp.js';
import { fromBase32 } from './helpers/base32.js';

/** Where the overview screenshot is kept (CI keeps the directory as the test's artifact). */
const ARTIFACTS = path.join(process.cwd(), 'artifacts');
const CHROMIUM = process.env.HALLMARK_CHROMIUM ?? '/usr/bin/chromium';

/** The page's globals, for functions that run in it (this file is compiled without the DOM types; a type only, as those functions are sent to the page as text). */
type PageElement = { tagName: string; textContent: string | null; children: ArrayLike<PageElement> };
type PageGlobals = { document: { querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>; activeElement: PageElement | null; documentElement: { scrollWidth: number } } };

let home: TestHome;
let browser: Browser;
before(async () => {
  home = await makeTestHome(['console-sqlite', 'console-postgres']);
  // As the machine's probe runs it: headless, no sandbox as root, no calls home.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
after(async () => {
  await browser?.close();
  home?.cleanup();
});

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`operator console on ${backend.name}`, () => {
    let env: NodeJS.ProcessEnv;
    let server: RunningServer;
    let adminKey: string;
    let rootPem: string;
    const operators: Record<string, { password: string; secret: Uint8Array }> = {};
    let lineA: string[] = [];
    let target = '';
    const cspViolations: string[] = [];

    before(async () => {
      env = await cliEnv(home, backend, `console-${backend.name}`);
      // A label whose enrollments wait for an operator (RFC 7030 §4.2.3).
      env.HALLMARK_CONFIG = configCopy(path.join(home.home, `console-config-${backend.name}`), (c) => {
        c.est = { labels: { default: { profile: 'device', enroll: ['token', 'bootstrap'] }, held: { profile: 'device', enroll: ['token'], manualApproval: true } } };
        // Two revocations within five minutes raise an alert, so that the overview has one to show.
        c.security = { ...(c.security ?? {}), alerts: { ...(c.security?.alerts ?? {}), revocationBurst: { threshold: 2, windowSeconds: 300 } } };
      });
      adminKey = (await hallmarkJson(env, 'init')).admin.apiKey;
      // Each test signs in as an operator of its own: a TOTP code is accepted once.
      for (const [name, role] of [['otto', 'operator'], ['rita', 'read-only'], ['opal', 'operator'], ['ivan', 'operator']] as const) {
        const password = `${name} has a long passphrase`;
        const file = path.join(home.home, `${name}-${backend.name}.pw`);
        fs.writeFileSync(file, password, { mode: 0o600 });
        const created = await hallmarkJson(env, 'operator', 'add', '--name', name, '--role', role, '--password-file', file);
        operators[name] = { password, secret: fromBase32(created.totpSecret) };
      }
      const stations = [await hallmarkJson(env, 'station', 'add', '--line', 'line-a', '--name', 'st-a'), await hallmarkJson(env, 'station', 'add', '--line', 'line-b', '--name', 'st-b')];
      server = await startServer(env);
      rootPem = (await mustRun('node', [path.join(process.cwd(), 'bin', 'hallmark.js'), 'ca', 'export', 'root'], { env })).toString();
      // Seed: 5 devices on line-a, 3 on line-b, one of line-b revoked for key compromise.
      const seed = async (station: { apiKey: string }, prefix: string, count: number) => {
        const ids = Array.from({ length: count }, (_, i) => `${prefix}-${backend.name}-${i}`);
        const csrs = await deviceCsrs(count, (i) => ids[i]!);
        const r = await postJson(server.https, rootPem, { authorization: `Bearer ${station.apiKey}` }, 'factory/provision/batch', { devices: ids.map((id, i) => ({ deviceSerial: id, model: 'M1', lot: `${prefix}-LOT`, firmwareVersion: '1.0', csr: csrs[i]!.csr })) });
        assert.equal(r.status, 200, JSON.stringify(r.json));
        return r.json.results as { deviceSerial: string; serial: string }[];
      };
      lineA = (await seed(stations[0]!, 'A', 5)).map((r) => r.serial);
      const lineB = await seed(stations[1]!, 'B', 3);
      const revoked = await postJson(server.https, rootPem, { authorization: `Bearer ${adminKey}` }, `certificates/${lineB[0]!.serial}/revoke`, { reason: 'keyCompromise' });
      assert.equal(revoked.status, 200, JSON.stringify(revoked.json));
      target = `A-${backend.name}-3`;
    });
    after(async () => {
      await server?.stop();
      await backend.cleanup();
    });

    async function signIn(name: string, beforeSignIn?: (page: Page) => Promise<unknown>): Promise<Page> {
      const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 1100 } });
      const page = await context.newPage();
      await beforeSignIn?.(page);
      page.on('console', (m) => {
        if (/Content Security Policy|Refused to/i.test(m.text())) cspViolations.push(m.text());
      });
      const landing = await page.goto(`https://localhost:${server.https}/console/`);
      assert.equal(landing!.status(), 200);
      const csp = landing!.headers()['content-security-policy']!;
      assert.match(csp, /script-src 'self'/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      await page.fill('#sign-in input[name=name]', name);
      await page.fill('#sign-in input[name=password]', operators[name]!.password);
      await page.fill('#sign-in input[name=totp]', totpCode(operators[name]!.secret, new Date()));
      const [response] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/console/session') && r.request().method() === 'POST'), page.click('#sign-in button[type=submit]')]);
      assert.equal(response.status(), 201, await response.text());
      const cookie = (await response.headerValue('set-cookie')) ?? '';
      assert.match(cookie, /^__Host-hallmark-session=hms_/);
      for (const flag of ['Secure', 'HttpOnly', 'SameSite=Strict', 'Path=/']) assert.ok(cookie.includes(flag), `cookie has ${flag}: ${cookie}`);
      await page.waitForSelector('#sign-out');
      return page;
    }

    test('an operator signs in with password + TOTP, sees the overview and the charts with the seeded counts, finds a device and revokes it; OCSP says revoked', async () => {
      const page = await signIn('otto');
      await page.waitForSelector('[data-testid=hierarchy] table');
      assert.match(await page.textContent('[data-testid=hierarchy]') ?? '', /root[\s\S]*issuing/);
      assert.match(await page.textContent('[data-testid=health]') ?? '', /reachable/);
      assert.equal(await page.getAttribute('[data-testid=provisioned-summary] li[data-line=line-a]', 'data-total'), '5');
      assert.equal(await page.getAttribute('[data-testid=provisioned-summary] li[data-line=line-b]', 'data-total'), '3');
      assert.equal(await page.getAttribute('[data-testid=revocations-summary] li[data-reason=keyCompromise]', 'data-count'), '1');
      // The charts were drawn: each canvas has pixels that are not background.
      for (const id of ['chart-provisioned', 'chart-expiring', 'chart-revocations']) {
        const painted = await page.$eval(`#${id}`, (canvas) => {
          // Runs in the page: a canvas element.
          const c = canvas as unknown as { width: number; height: number; getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } };
          const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
          let count = 0;
          for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) count++;
          return { width: c.width, count };
        });
        assert.ok(painted.width > 100 && painted.count > 200, `${id} is drawn: ${JSON.stringify(painted)}`);
      }
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, `console-overview-${backend.name}.png`), fullPage: true });

      await page.click('nav a[href="#/certificates"]');
      await page.fill('#search input[name=serial]', target);
      await page.click('#search button[type=submit]');
      await page.click(`[data-testid=open-${target}]`);
      await page.waitForSelector('[data-testid=decoded]');
      assert.match(await page.textContent('[data-testid=decoded]') ?? '', new RegExp(`CN=${target}`));
      await page.selectOption('[data-testid=revoke-reason]', 'keyCompromise');
      await page.click('[data-testid=revoke]');
      // The confirmation names the device before anything happens.
      assert.match(await page.textContent('#confirm-text') ?? '', new RegExp(`device ${target}`));
      await page.click('#confirm-ok');
      await page.waitForSelector('[data-testid=certificate-status]:has-text("revoked")');

      // A relying party's view: openssl ocsp against the plain-HTTP listener.
      const dir = fs.mkdtempSync(path.join(home.home, 'ocsp-'));
      const serial = lineA[3]!;
      fs.writeFileSync(path.join(dir, 'cert.pem'), (await hallmarkJson(env, 'cert', 'show', serial)).certificate);
      fs.writeFileSync(path.join(dir, 'issuing.pem'), (await mustRun('node', [path.join(process.cwd(), 'bin', 'hallmark.js'), 'ca', 'export', 'issuing'], { env })).toString());
      fs.writeFileSync(path.join(dir, 'chain.pem'), rootPem + fs.readFileSync(path.join(dir, 'issuing.pem'), 'utf8'));
      const ocsp = await run('openssl', ['ocsp', '-issuer', path.join(dir, 'issuing.pem'), '-cert', path.join(dir, 'cert.pem'), '-url', `http://127.0.0.1:${server.http}/ocsp`, '-CAfile', path.join(dir, 'chain.pem')]);
      assert.match(ocsp.stdout, /: revoked/, ocsp.stdout + ocsp.stderr);
      assert.match(ocsp.stdout, /Reason: keyCompromise/);

      // Every state change needs the CSRF token, even with the cookie.
      const forged = await page.evaluate(async (s) => (await fetch(`/api/v1/certificates/${s}/revoke`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"reason":"superseded"}' })).status, lineA[0]!);
      assert.equal(forged, 403);

      await page.click('#sign-out');
      await page.waitForSelector('#sign-in');
      assert.equal(await page.evaluate(async () => (await fetch('/api/v1/overview')).status), 401, 'signed out: the cookie no longer works');
      await page.context().close();
    });

    test('an enrollment held for approval is approved from the console; the device then gets its certificate', async () => {
      const device = `held-${backend.name}`;
      const { secret } = await hallmarkJson(env, 'token', 'create', '--device', device, '--label', 'held');
      const dir = fs.mkdtempSync(path.join(home.home, 'held-'));
      fs.writeFileSync(path.join(dir, 'root.pem'), rootPem);
      await mustRun('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(dir, 'k.pem'), '-subj', `/CN=${device}`, '-outform', 'DER', '-out', path.join(dir, 'r.der')]);
      fs.writeFileSync(path.join(dir, 'r.b64'), fs.readFileSync(path.join(dir, 'r.der')).toString('base64'));
      const enroll = () => run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', path.join(dir, 'root.pem'), '-u', `${device}:${secret}`, '-H', 'Content-Type: application/pkcs10', '--data-binary', `@${path.join(dir, 'r.b64')}`, `https://localhost:${server.https}/.well-known/est/held/simpleenroll`]);
      assert.equal((await enroll()).stdout, '202');
      const page = await signIn('opal');
      await page.click('nav a[href="#/enrollments"]');
      await page.waitForSelector('[data-testid=enrollments]');
      const id = (await hallmarkJson(env, 'enrollment', 'list', '--status', 'pending')).find((e: { device: string }) => e.device === device).id;
      await page.click(`[data-testid=approve-${id}]`);
      assert.match(await page.textContent('#confirm-text') ?? '', new RegExp(`device ${device}`));
      await page.click('#confirm-ok');
      await page.waitForSelector(`[data-testid=enrollment-state-${id}]:has-text("approved")`);
      assert.equal((await enroll()).stdout, '200', 'the repeated request gets its certificate');
      await page.context().close();
    });

    test('a read-only operator sees no revoke or disable button and gets 403 when forcing the API', async () => {
      // The overview's data arrives late (held back a second): opening another view meanwhile must not be
      // undone when it lands.
      const page = await signIn('rita', (p) => p.route('**/api/v1/overview', async (r) => (await new Promise((resolve) => setTimeout(resolve, 1000)), r.continue())));
      const overviewArrived = page.waitForResponse((r) => r.url().endsWith('/api/v1/overview'));
      await page.click('nav a[href="#/certificates"]');
      await overviewArrived;
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(await page.locator('#search input[name=serial]').count(), 1, 'the certificates view is still shown after the late overview');
      await page.fill('#search input[name=serial]', `A-${backend.name}-1`);
      await page.click('#search button[type=submit]');
      await page.click(`[data-testid=open-A-${backend.name}-1]`);
      await page.waitForSelector('[data-testid=decoded]');
      assert.equal(await page.locator('[data-testid=revoke]').count(), 0);
      await page.click('nav a[href="#/stations"]');
      await page.waitForSelector('[data-testid=stations]');
      assert.equal(await page.locator('[data-testid^=disable-]').count(), 0);
      const forced = await page.evaluate(async (s) => {
        const me = (await (await fetch('/console/session')).json()) as { csrfToken: string };
        const r = await fetch(`/api/v1/certificates/${s}/revoke`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': me.csrfToken }, body: '{"reason":"superseded"}' });
        return { status: r.status, body: (await r.json()) as { error: { code: string } } };
      }, lineA[1]!);
      assert.equal(forced.status, 403, JSON.stringify(forced.body));
      assert.equal(forced.body.error.code, 'forbidden');
      await page.click('nav a[href="#/audit"]');
      await page.waitForSelector('[data-testid=chain].state-ok');
      assert.match(await page.textContent('[data-testid=audit]') ?? '', /certificate\.revoke/);
      await page.context().close();
      assert.deepEqual(cspViolations, [], 'no Content-Security-Policy violations');
    });

    test('devices from every path in one search, a page at a time; details in view with named usages; audit by prefix with names, final outcomes and details; headline counts and alerts with what to do', async () => {
      // Three devices that enrolled themselves over EST, beside the factory's eight.
      const dir = fs.mkdtempSync(path.join(home.home, 'est-'));
      fs.writeFileSync(path.join(dir, 'root.pem'), rootPem);
      for (let i = 0; i < 3; i++) {
        const device = `est-${backend.name}-${i}`;
        const { secret } = await hallmarkJson(env, 'token', 'create', '--device', device);
        await mustRun('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(dir, `${i}.key`), '-subj', `/CN=${device}`, '-outform', 'DER', '-out', path.join(dir, `${i}.der`)]);
        fs.writeFileSync(path.join(dir, `${i}.b64`), fs.readFileSync(path.join(dir, `${i}.der`)).toString('base64'));
        const enrolled = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', path.join(dir, 'root.pem'), '-u', `${device}:${secret}`, '-H', 'Content-Type: application/pkcs10', '--data-binary', `@${path.join(dir, `${i}.b64`)}`, `https://localhost:${server.https}/.well-known/est/simpleenroll`]);
        assert.equal(enrolled.stdout, '200');
      }
      const page = await signIn('ivan');
      // Overview: the figures first; the responder and HTTPS certificates are not the operator's to renew.
      await page.waitForSelector('[data-testid=count-active]');
      assert.ok(Number(await page.textContent('[data-testid=count-active] strong')) >= 10);
      assert.equal(await page.textContent('[data-testid=count-expiring] strong'), '0');
      assert.equal(await page.textContent('[data-testid=count-devices] strong'), '8');
      const alerts = (await page.textContent('[data-testid=alert-list]')) ?? '';
      assert.match(alerts, /warning[\s\S]*revocation-burst/);
      assert.match(alerts, /check the audit log/);
      fs.mkdirSync(ARTIFACTS, { recursive: true });

      // One search over every path, ten a page; More brings the rest.
      await page.click('nav a[href="#/certificates"]');
      await page.selectOption('#search select[name=pageSize]', '10');
      await page.click('#search button[type=submit]');
      await page.waitForSelector('[data-testid=devices]');
      assert.equal(await page.locator('[data-testid=devices] tbody tr').count(), 10);
      await page.click('[data-testid=more-devices]');
      await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.querySelectorAll('[data-testid=devices] tbody tr').length > 10);
      const rows = await page.locator('[data-testid=devices] tbody tr').allTextContents();
      assert.ok(rows.some((r) => r.startsWith(`est-${backend.name}-1`) && r.includes('est (secret)')), rows.join('\n'));
      assert.ok(rows.some((r) => r.startsWith(`A-${backend.name}-0`) && r.includes('factory')));
      // By prefix, an EST device alone; its details come into view, usages by name.
      await page.fill('#search input[name=serial]', `est-${backend.name}-2`);
      await page.click('#search button[type=submit]');
      await page.click(`[data-testid=open-est-${backend.name}-2]`);
      await page.waitForSelector('[data-testid=decoded]');
      assert.ok(await page.isVisible('#details h2'));
      assert.equal(await page.evaluate(() => (globalThis as unknown as PageGlobals).document.activeElement?.tagName), 'H2', 'focus moves to the details');
      const decoded = (await page.textContent('[data-testid=decoded]')) ?? '';
      assert.match(decoded, /keyUsage\s*digitalSignature/);
      assert.match(decoded, /extendedKeyUsage\s*clientAuth/);
      assert.equal(await page.locator('label[for=revoke-reason]').count(), 1, 'the reason has a label');
      await page.screenshot({ path: path.join(ARTIFACTS, `console-devices-${backend.name}.png`), fullPage: false });

      // A device's page: how it enrolled, its certificates, and what an operator may do about it.
      await page.click(`[data-testid=device-est-${backend.name}-2]`);
      await page.waitForSelector('[data-testid=device-summary]');
      assert.match((await page.textContent('[data-testid=device-summary]')) ?? '', /est \(secret\)/);
      assert.equal(await page.locator('[data-testid=device-history] tbody tr').count(), 1);
      assert.equal(await page.locator('[data-testid=allow-reprovision]').count(), 0, 'only factory devices are re-provisioned');
      await page.click('[data-testid=allow-renewal]');
      assert.match((await page.textContent('#confirm-text')) ?? '', new RegExp(`device est-${backend.name}-2`));
      await page.click('#confirm-ok');
      await page.waitForSelector('[data-testid=renewal-allowed]');
      const factoryDevice = `A-${backend.name}-0`;
      await page.fill('#search input[name=serial]', factoryDevice);
      await page.click('#search button[type=submit]');
      await page.click(`[data-testid=device-${factoryDevice}]`);
      await page.waitForSelector('[data-testid=device-records]');
      assert.match((await page.textContent('[data-testid=device-summary]')) ?? '', /factory[\s\S]*line-a \/ A-LOT \/ M1/);
      await page.click('[data-testid=allow-reprovision]');
      await page.click('#confirm-ok');
      await page.waitForSelector('[data-testid=device-summary]:has-text("allowed (next provisioning")');
      assert.equal((await hallmarkJson(env, 'device', 'show', factoryDevice)).reprovisionAllowed, true);

      // Audit: a prefix, names instead of key ids, the issuance's final outcome, an entry's details.
      await page.click('nav a[href="#/audit"]');
      await page.waitForSelector('[data-testid=audit]');
      await page.fill('#audit-action', 'certificate');
      await page.click('#audit-filter button[type=submit]');
      await page.waitForFunction(() => [...(globalThis as unknown as PageGlobals).document.querySelectorAll('[data-testid=audit] tbody tr')].every((tr) => tr.children[3]?.textContent?.startsWith('certificate')));
      const audit = await page.locator('[data-testid=audit] tbody tr').allTextContents();
      assert.ok(audit.some((r) => r.includes('station st-a') && r.includes('certificate.issue') && r.includes('success')), audit.slice(0, 20).join('\n'));
      assert.ok(!audit.some((r) => /certificate\.issue.*pending/.test(r)), 'issued certificates show their final outcome');
      const seq = (await page.locator('[data-testid=audit] tbody tr', { hasText: 'certificate.issue' }).first().locator('td').first().textContent())!;
      await page.click(`[data-testid=entry-${seq}]`);
      await page.waitForSelector('[data-testid=audit-entry-details]');
      assert.match((await page.textContent('[data-testid=audit-entry-details]')) ?? '', /"profile": "device"/);
      await page.screenshot({ path: path.join(ARTIFACTS, `console-audit-${backend.name}.png`), fullPage: false });

      // The CA page: each generation's place in its family's rollover, its CRL and responder.
      const next = await hallmarkJson<{ name: string }>(env, 'ca', 'rollover', 'issuing', '--at', new Date(Date.now() + 30 * 86_400_000).toISOString());
      await page.click('nav a[href="#/cas"]');
      await page.waitForSelector('[data-testid=ca-table]');
      assert.equal(await page.textContent('[data-testid=ca-state-issuing]'), 'issuing');
      assert.equal(await page.textContent('[data-testid=ca-state-root]'), 'issuing');
      assert.match((await page.textContent(`[data-testid=ca-state-${next.name}]`)) ?? '', /^rollover scheduled: issues from /);
      assert.match((await page.textContent('[data-testid=ca-table]')) ?? '', /issuing[\s\S]*#\d+, \d+ entries/);

      // At phone width every page fits the screen: what is wide scrolls inside its card.
      await page.setViewportSize({ width: 390, height: 844 });
      for (const view of ['overview', 'cas', 'certificates', 'stations', 'enrollments', 'audit']) {
        await page.click(`nav a[href="#/${view}"]`);
        await page.waitForSelector('section.card');
        await page.waitForLoadState('networkidle');
        const width = await page.evaluate(() => ({ page: (globalThis as unknown as PageGlobals).document.documentElement.scrollWidth, screen: (globalThis as unknown as { innerWidth: number }).innerWidth }));
        assert.ok(width.page <= width.screen, `${view} fits a phone: ${JSON.stringify(width)}`);
      }
      await page.click('nav a[href="#/overview"]');
      await page.waitForSelector('[data-testid=count-active]');
      await page.screenshot({ path: path.join(ARTIFACTS, `console-phone-${backend.name}.png`), fullPage: false });
      await page.context().close();
      assert.deepEqual(cspViolations, [], 'no Content-Security-Policy violations');
    });
  });
}
