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
import { hotp, TOTP_STEP_SECONDS } from '../src/auth/totp.js';
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
      for (const [name, role] of [['otto', 'operator'], ['rita', 'read-only'], ['opal', 'operator'], ['ivan', 'operator'], ['adam', 'admin'], ['alba', 'admin'], ['arlo', 'admin'], ['ava', 'admin'], ['abe', 'admin'], ['rhea', 'admin'], ['sven', 'operator']] as const) {
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
    /** Every browser context a test opened: closed here even when the test failed half-way. */
    const contexts: { close(): Promise<void> }[] = [];
    after(async () => {
      await Promise.all(contexts.map((c) => c.close().catch(() => undefined)));
      await server?.stop();
      await backend.cleanup();
    });

    /**
     * The operator's next unused authenticator code: the current step's, or the next one's (the server
     * allows a step of drift), waiting for the clock only when both are used. A code works once.
     */
    const lastStep: Record<string, number> = {};
    async function freshCode(name: string): Promise<string> {
      for (;;) {
        const now = Math.floor(Date.now() / 1000 / TOTP_STEP_SECONDS);
        const step = Math.max(now, (lastStep[name] ?? -1) + 1);
        if (step <= now + 1) {
          lastStep[name] = step;
          return hotp(operators[name]!.secret, step);
        }
        await new Promise((resolve) => setTimeout(resolve, TOTP_STEP_SECONDS * 1000 - (Date.now() % (TOTP_STEP_SECONDS * 1000)) + 50));
      }
    }

    async function signIn(name: string, beforeSignIn?: (page: Page) => Promise<unknown>): Promise<Page> {
      const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 1100 } });
      contexts.push(context);
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
      await page.fill('#sign-in input[name=totp]', await freshCode(name));
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

    test('two-person rule from the console: a second person approves one pending release (the token signs it) and rejects another with a reason', async () => {
      await hallmarkJson(env, 'signer', 'create', '--name', 'cons-fw', '--two-person');
      const pipeline = (await hallmarkJson(env, 'apikey', 'create', '--role', 'admin', '--scopes', 'firmware.sign:cons-fw,release.read')).apiKey;
      const ask = async (version: string, digest: string) => {
        const r = await postJson(server.https, rootPem, { authorization: `Bearer ${pipeline}` }, 'signers/cons-fw/signatures', { digestAlgorithm: 'sha256', digest, product: 'cons', version });
        assert.equal(r.status, 202, JSON.stringify(r.json));
        return r.json.id as number;
      };
      // Approving 1.0.0 after 1.1.0 was asked for would be a rollback: 1.1.0 is approved, 1.0.0 rejected.
      const second = await ask('1.0.0', 'b2'.repeat(32));
      const first = await ask('1.1.0', 'a1'.repeat(32));
      const page = await signIn('rhea');
      await page.click('nav a[href="#/releases"]');
      await page.waitForSelector('[data-testid=pending-releases]');
      await page.click(`[data-testid=approve-release-${first}]`);
      assert.match((await page.textContent('#confirm-text')) ?? '', new RegExp(`cons 1\\.1\\.0 .*${'a1'.repeat(32)}`));
      await page.click('#confirm-ok');
      await page.waitForSelector(`[data-testid=release-state-${first}]:has-text("signed (approved by session:rhea)")`);
      await page.click(`[data-testid=reject-release-${second}]`);
      await page.fill('[data-testid=reject-reason]', 'not the reviewed build');
      await page.click('#confirm-ok');
      await page.waitForSelector(`[data-testid=release-state-${second}]:has-text("rejected by session:rhea: not the reviewed build")`);
      const shown = await hallmarkJson(env, 'release', 'show', String(first));
      assert.equal(shown.status, 'signed');
      assert.ok(shown.signature);
      assert.equal((await hallmarkJson(env, 'release', 'show', String(second))).status, 'rejected');
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

      // The device revoked in the first test was asked about over OCSP (openssl ocsp): last seen says so.
      await page.fill('#search input[name=serial]', target);
      await page.click('#search button[type=submit]');
      await page.click(`[data-testid=device-${target}]`);
      await page.waitForSelector(`#details h2:has-text("Device ${target}")`);
      assert.match((await page.textContent('[data-testid=device-summary]')) ?? '', /last seen\s*OCSP \d{4}-/);

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

    /** Every field and button of the page has an accessible name; one h1; headings never skip a level. */
    async function assertAccessible(page: Page, where: string): Promise<void> {
      const problems = await page.evaluate(() => {
        type El = { tagName: string; type?: string; id: string; labels?: ArrayLike<unknown> | null; textContent: string | null; getAttribute(n: string): string | null; closest(s: string): unknown };
        const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<El> & Iterable<El> } }).document;
        const found: string[] = [];
        for (const el of doc.querySelectorAll('main input, main select, main textarea, dialog input')) {
          if (el.type === 'hidden' || el.closest('[hidden]')) continue;
          if (!(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby')) found.push(`${el.tagName} ${el.id || el.getAttribute('name')} has no label`);
        }
        for (const el of doc.querySelectorAll('button, a[href]')) if (!(el.getAttribute('aria-label') || el.textContent?.trim())) found.push(`${el.tagName} without a name`);
        if (doc.querySelectorAll('h1').length !== 1) found.push('not exactly one h1');
        let level = 1;
        for (const hd of doc.querySelectorAll('h1, h2, h3, h4')) {
          const n = Number(hd.tagName[1]);
          if (n > level + 1) found.push(`${hd.tagName} "${hd.textContent}" skips a level`);
          level = n;
        }
        return found;
      });
      assert.deepEqual(problems, [], `${where}: ${problems.join('; ')}`);
    }

    /** Confirms a high-impact action in the dialog with the operator's next authenticator code. */
    async function confirmWithFreshCode(page: Page, name: string, expected: RegExp): Promise<void> {
      await page.waitForSelector('#fresh-code');
      assert.match((await page.textContent('#confirm-text')) ?? '', expected);
      assert.equal(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { id: string } | null } }).document.activeElement?.id), 'fresh-code', 'focus is on the code field');
      await page.fill('#fresh-code', await freshCode(name));
      await page.click('#confirm-ok');
    }

    test('management pages: operators, API keys, enrollment secrets and stations, each change with a fresh authenticator code; hidden from roles that cannot; keyboard and screen-reader basics on every page', async () => {
      // Admin adam: every section is offered; each page passes the accessibility checks.
      const adam = await signIn('adam');
      await adam.waitForSelector('[data-testid=count-active]');
      // Signed in, focus is on the first heading; "Skip to content" is the page's first stop and moves focus to the main area.
      await adam.waitForFunction(() => (globalThis as unknown as PageGlobals).document.activeElement?.tagName === 'H2', undefined, { timeout: 10_000 });
      assert.equal(await adam.evaluate(() => (globalThis as unknown as { document: { querySelector(s: string): { className: string } | null } }).document.querySelector('a[href], button, input, select, [tabindex]:not([tabindex="-1"])')?.className), 'skip');
      await adam.focus('a.skip');
      await adam.keyboard.press('Enter');
      assert.equal(await adam.evaluate(() => (globalThis as unknown as { document: { activeElement: { id: string } | null } }).document.activeElement?.id), 'main');
      assert.equal(await adam.evaluate(() => (globalThis as unknown as { location: { hash: string } }).location.hash), '', 'the route did not change');
      for (const view of ['overview', 'cas', 'certificates', 'stations', 'tokens', 'enrollments', 'releases', 'apikeys', 'operators', 'audit']) {
        await adam.click(`nav a[href="#/${view}"]`);
        // Focus leaves the link for the new section's heading once the section is drawn.
        await adam.waitForFunction(() => (globalThis as unknown as { document: { activeElement: { tagName: string } | null } }).document.activeElement?.tagName === 'H2', undefined, { timeout: 10_000 });
        await adam.waitForLoadState('networkidle');
        assert.equal(await adam.getAttribute(`nav a[href="#/${view}"]`, 'aria-current'), 'page');
        await assertAccessible(adam, view);
      }

      // Operators: nina is made; her authenticator is shown once. Cancel does nothing; a wrong code is refused.
      await adam.click('nav a[href="#/operators"]');
      await adam.fill('#op-name', 'nina');
      await adam.selectOption('#op-role', 'operator');
      await adam.fill('#op-password', 'nina has a long passphrase');
      await adam.click('#create-operator button[type=submit]');
      await confirmWithFreshCode(adam, 'adam', /Create operator nina with role operator/);
      await adam.waitForSelector('[data-testid=enrolment]');
      const ninaSecret = (await adam.textContent('[data-testid=totp-secret]'))!;
      operators.nina = { password: 'nina has a long passphrase', secret: fromBase32(ninaSecret) };
      await adam.waitForSelector('[data-testid=operator-state-nina]');
      await adam.click('[data-testid=disable-nina]');
      await adam.waitForSelector('#fresh-code');
      await adam.click('#confirm-cancel');
      await adam.click('[data-testid=disable-nina]');
      await adam.fill('#fresh-code', '000000');
      await adam.click('#confirm-ok');
      await adam.waitForSelector('[role=alert]:has-text("not accepted")');
      assert.equal(await adam.textContent('[data-testid=operator-state-nina]'), 'active');
      await assertAccessible(adam, 'operators after creating one');
      await adam.screenshot({ path: path.join(ARTIFACTS, `console-operators-${backend.name}.png`), fullPage: false });
      await adam.context().close();

      // Nina, an operator: enrollment secrets and stations, but no API keys or operators.
      const nina = await signIn('nina');
      await nina.waitForSelector('[data-testid=count-active]');
      assert.equal(await nina.isVisible('nav a[href="#/tokens"]'), true);
      assert.equal(await nina.isVisible('nav a[href="#/apikeys"]'), false);
      assert.equal(await nina.isVisible('nav a[href="#/operators"]'), false);
      await nina.click('nav a[href="#/tokens"]');
      await nina.fill('#token-lot', `LOT-${backend.name}`);
      await nina.fill('#token-count', '3');
      await nina.click('#create-tokens button[type=submit]');
      const [saved] = await Promise.all([nina.waitForEvent('download'), confirmWithFreshCode(nina, 'nina', new RegExp(`Make 3 one-time enrollment secrets for lot LOT-${backend.name}`))]);
      assert.equal(saved.suggestedFilename(), `LOT-${backend.name}-secrets.csv`);
      const csv = fs.readFileSync((await saved.path())!, 'utf8').trim().split('\n');
      assert.equal(csv[0], 'device,secret,id,label,expiresAt');
      assert.equal(csv.length, 4);
      await nina.waitForSelector(`[data-testid="token-state-LOT-${backend.name}-0001"]`);
      // A secret from the file enrolls its device over EST (curl), as the label printer's device would.
      const [device, secret] = csv[1]!.split(',') as [string, string];
      const dir = fs.mkdtempSync(path.join(home.home, 'lot-'));
      fs.writeFileSync(path.join(dir, 'root.pem'), rootPem);
      await mustRun('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(dir, 'k.pem'), '-subj', `/CN=${device}`, '-outform', 'DER', '-out', path.join(dir, 'r.der')]);
      fs.writeFileSync(path.join(dir, 'r.b64'), fs.readFileSync(path.join(dir, 'r.der')).toString('base64'));
      const enrolled = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', path.join(dir, 'root.pem'), '-u', `${device}:${secret}`, '-H', 'Content-Type: application/pkcs10', '--data-binary', `@${path.join(dir, 'r.b64')}`, `https://localhost:${server.https}/.well-known/est/simpleenroll`]);
      assert.equal(enrolled.stdout, '200', enrolled.stderr);
      await nina.click('#token-filter button[type=submit]');
      await nina.waitForSelector(`[data-testid="token-state-${device}"]:has-text("used")`);
      await nina.click('[data-testid=revoke-lot]');
      await nina.click('#confirm-ok');
      await nina.waitForSelector('[data-testid=lot-revoked]:has-text("2 secret(s)")');
      await assertAccessible(nina, 'tokens');

      // Sven, an operator, registers a station: its API key provisions a device at once.
      const sven = await signIn('sven');
      await sven.click('nav a[href="#/stations"]');
      await sven.fill('#station-name', `st-ui-${backend.name}`);
      await sven.fill('#station-line', 'line-ui');
      await sven.click('#add-station button[type=submit]');
      await confirmWithFreshCode(sven, 'sven', new RegExp(`Register station st-ui-${backend.name} on line line-ui`));
      await sven.waitForSelector('[data-testid=station-credentials]');
      const stationKey = (await sven.textContent('[data-testid=station-api-key]'))!;
      const [csr] = await deviceCsrs(1, () => `UI-${backend.name}-1`);
      const provisioned = await postJson(server.https, rootPem, { authorization: `Bearer ${stationKey}` }, 'factory/provision', { deviceSerial: `UI-${backend.name}-1`, model: 'M1', lot: 'UI', firmwareVersion: '1.0', csr: csr!.csr });
      assert.equal(provisioned.status, 201, JSON.stringify(provisioned.json));
      assert.equal(await sven.locator(`[data-testid=disable-st-ui-${backend.name}]`).count(), 1);
      await assertAccessible(sven, 'stations');
      await sven.context().close();

      // Alba makes an API key (shown once, and it works); Arlo revokes it.
      const alba = await signIn('alba');
      await alba.click('nav a[href="#/apikeys"]');
      await alba.fill('#key-label', `reader-${backend.name}`);
      await alba.selectOption('#key-role', 'read-only');
      await alba.click('#create-key button[type=submit]');
      await confirmWithFreshCode(alba, 'alba', new RegExp(`Create API key "reader-${backend.name}" with role read-only`));
      await alba.waitForSelector('[data-testid=new-api-key]');
      const apiKey = (await alba.textContent('[data-testid=new-api-key]'))!;
      const whoami = async () => (await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', path.join(dir, 'root.pem'), '-H', `Authorization: Bearer ${apiKey}`, `https://localhost:${server.https}/api/v1/whoami`])).stdout;
      assert.equal(await whoami(), '200');
      await assertAccessible(alba, 'API keys');
      await alba.context().close();
      const arlo = await signIn('arlo');
      await arlo.click('nav a[href="#/apikeys"]');
      const keyId = /^hmk_([0-9a-f]+)_/.exec(apiKey)![1]!;
      await arlo.click(`[data-testid=revoke-key-${keyId}]`);
      await confirmWithFreshCode(arlo, 'arlo', new RegExp(`Revoke API key "reader-${backend.name}"`));
      await arlo.waitForSelector(`[data-testid=key-state-${keyId}]:has-text("revoked")`);
      assert.equal(await whoami(), '401');
      await arlo.context().close();

      // Ava gives nina a new authenticator (nina's session ends); Abe disables her.
      const ava = await signIn('ava');
      await ava.click('nav a[href="#/operators"]');
      await ava.click('[data-testid=reset-totp-nina]');
      await confirmWithFreshCode(ava, 'ava', /Give nina a new authenticator/);
      await ava.waitForSelector('[data-testid=enrolment]');
      assert.notEqual(await ava.textContent('[data-testid=totp-secret]'), ninaSecret);
      await ava.context().close();
      await nina.click('nav a[href="#/overview"]');
      await nina.waitForSelector('#sign-in', { timeout: 10_000 });
      await nina.context().close();
      const abe = await signIn('abe');
      await abe.click('nav a[href="#/operators"]');
      await abe.click('[data-testid=disable-nina]');
      await confirmWithFreshCode(abe, 'abe', /Disable operator nina/);
      await abe.waitForSelector('[data-testid=operator-state-nina]:has-text("disabled")');
      assert.equal(await abe.locator('[data-testid=disable-abe]').count(), 0, 'nobody is offered to disable themselves');
      // The management pages fit a phone too.
      await abe.setViewportSize({ width: 390, height: 844 });
      for (const view of ['stations', 'tokens', 'apikeys', 'operators']) {
        await abe.click(`nav a[href="#/${view}"]`);
        await abe.waitForFunction(() => (globalThis as unknown as PageGlobals).document.activeElement?.tagName === 'H2', undefined, { timeout: 10_000 });
        await abe.waitForLoadState('networkidle');
        const width = await abe.evaluate(() => ({ page: (globalThis as unknown as PageGlobals).document.documentElement.scrollWidth, screen: (globalThis as unknown as { innerWidth: number }).innerWidth }));
        assert.ok(width.page <= width.screen, `${view} fits a phone: ${JSON.stringify(width)}`);
      }
      await abe.context().close();
      const listed = await mustRun('curl', ['-sS', '--cacert', path.join(dir, 'root.pem'), '-H', `Authorization: Bearer ${adminKey}`, `https://localhost:${server.https}/api/v1/audit?action=operator.&limit=100`]);
      const audit = (JSON.parse(listed.toString()).entries as { action: string; actor: string }[]).map((e) => `${e.action} ${e.actor}`);
      for (const line of ['operator.create session:adam', 'operator.totp-reset session:ava', 'operator.disable session:abe']) assert.ok(audit.includes(line), `${line} in ${audit.join(', ')}`);
      assert.deepEqual(cspViolations, [], 'no Content-Security-Policy violations');
    });
  });
}
