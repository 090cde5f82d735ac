import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { BACKENDS } from './helpers/backends.js';
import { opensslCsr } from './helpers/csr.js';
import { cliEnv, hallmark, hallmarkJson } from './helpers/cli.js';
import { mustRun, run } from './helpers/run.js';
import { ROOT } from './helpers/paths.js';

let home: TestHome;
before(async () => {
  home = await makeTestHome(['hallmark-sqlite', 'hallmark-postgres', 'hallmark-pin']);
});
after(() => home?.cleanup());

/** stderr is one line that starts with "hallmark:". */
const oneLine = (stderr: string) => {
  assert.equal(stderr.trim().split('\n').length, 1, `one line expected, got: ${stderr}`);
  assert.match(stderr, /^hallmark: /);
};

describe('refusing to start without the right PIN', () => {
  test('no PIN at all: a clear error naming the variables, exit 1', async () => {
    const env: NodeJS.ProcessEnv = { ...home.env, HALLMARK_PKCS11_TOKEN: 'hallmark-pin' };
    delete env.HALLMARK_PKCS11_PIN_FILE;
    const result = await hallmark(env, 'init');
    assert.equal(result.code, 1);
    oneLine(result.stderr);
    assert.match(result.stderr, /no token PIN: set HALLMARK_PKCS11_PIN or HALLMARK_PKCS11_PIN_FILE/);
  });
  test('a wrong PIN: refused, and the PIN is not repeated back', async () => {
    const wrong = 'wrong-pin-31415926';
    const env: NodeJS.ProcessEnv = { ...home.env, HALLMARK_PKCS11_TOKEN: 'hallmark-pin', HALLMARK_PKCS11_PIN: wrong };
    delete env.HALLMARK_PKCS11_PIN_FILE;
    const result = await hallmark(env, 'init');
    assert.equal(result.code, 1);
    oneLine(result.stderr);
    assert.match(result.stderr, /refused the PIN/);
    assert.ok(!result.stderr.includes(wrong) && !result.stdout.includes(wrong));
    assert.ok(!result.stderr.includes(home.pin));
  });
  test('an unreadable PIN file names the file', async () => {
    const env = { ...home.env, HALLMARK_PKCS11_PIN_FILE: path.join(home.home, 'missing.pin') };
    const result = await hallmark(env, 'init');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /cannot read HALLMARK_PKCS11_PIN_FILE .*missing\.pin.*ENOENT/);
  });
});

describe('configuration errors name the file, the field and the problem', () => {
  const cases: [string, string, string, string, (file: string) => string][] = [
    ['a profile with a wrong field type', 'profiles/device.yaml', 'maxDays: 825', 'maxDays: "long"', (f) => `${f}: validity.maxDays:`],
    ['a profile naming an unknown issuer', 'profiles/station.yaml', 'issuer: issuing', 'issuer: nowhere', (f) => `${f}: issuer: unknown CA "nowhere"`],
    ['a CA with an unknown key type', 'hallmark.yaml', 'key: ec-p384', 'key: dsa-1024', (f) => `${f}: cas.0.key:`],
    ['a public base URL with a trailing slash', 'hallmark.yaml', 'http://localhost:8080', 'http://localhost:8080/', (f) => `${f}: publicBaseUrl: no trailing slash`],
    ['no signing thread', 'hallmark.yaml', 'signingThreads: 1', 'signingThreads: 0', (f) => `${f}: hsm.signingThreads:`],
  ];
  for (const [what, file, from, to, expected] of cases) {
    test(what, async () => {
      const dir = fs.mkdtempSync(path.join(home.home, 'config-'));
      fs.cpSync(path.join(ROOT, 'ca-config'), dir, { recursive: true });
      const target = path.join(dir, file);
      const text = fs.readFileSync(target, 'utf8');
      assert.ok(text.includes(from), `fixture still contains ${from}`);
      fs.writeFileSync(target, text.replace(from, to));
      const result = await hallmark({ ...home.env, HALLMARK_CONFIG: path.join(dir, 'hallmark.yaml') }, 'ca', 'list');
      assert.equal(result.code, 1);
      assert.ok(result.stderr.includes(expected(target)), result.stderr);
    });
  }
  test('usage errors exit 2 and say what to do', async () => {
    const unknown = await hallmark(home.env, 'frobnicate');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"; the commands are init, serve, .*\(see `hallmark help`\)/);
    const missing = await hallmark(home.env, 'cert', 'issue');
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /`hallmark cert issue` needs --profile \(see `hallmark cert issue --help`\)/);
    const flag = await hallmark(home.env, 'cert', 'list', '--bogus');
    assert.equal(flag.code, 2);
    // A mistyped option is named with the one meant; an option of another verb is pointed out.
    const typo = await hallmark(home.env, 'cert', 'issue', '--profle', 'device');
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /unknown option --profle; did you mean --profile\?/);
    const foreign = await hallmark(home.env, 'cert', 'list', '--csr', 'x.csr');
    assert.equal(foreign.code, 2);
    assert.match(foreign.stderr, /--csr is not an option of `hallmark cert list` \(see `hallmark cert list --help`\)/);
    const verb = await hallmark(home.env, 'cert', 'lsit');
    assert.equal(verb.code, 2);
    assert.match(verb.stderr, /"lsit" is not a verb of `hallmark cert`: issue, list, show, revoke, release, allow-renewal/);
  });

  test('help comes from the command table: the global page, a command, one verb with every option explained', async () => {
    const global = await hallmark(home.env, 'help');
    assert.equal(global.code, 0);
    for (const line of ['hallmark ca rollover <ca> [--at <ISO 8601>]', 'hallmark ca revoke <ca> --reason <reason>', 'hallmark cert list [--status <status>] [--device <id>] [--issuer <ca|file>] [--expiring <days>] [--limit <n>]']) {
      assert.ok(global.stdout.includes(line), `help shows: ${line}`);
    }
    const verb = await hallmark(home.env, 'cert', 'issue', '--help');
    assert.equal(verb.code, 0);
    assert.match(verb.stdout, /^hallmark cert — issue, inspect and revoke certificates/);
    assert.match(verb.stdout, /hallmark cert issue \[--csr <file>\] \[--dir <directory>\] --profile <name>/);
    assert.match(verb.stdout, /--days <n>\s+validity in days/);
    assert.doesNotMatch(verb.stdout, /--expiring/, 'one verb: its own options only');
    const command = await hallmark(home.env, 'help', 'device');
    assert.match(command.stdout, /hallmark device export \[--format <format>\] \[--out <file>\]/);
    assert.match(command.stdout, /hallmark device reprovision <serial>/);
  });
});

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`CLI on ${backend.name}`, () => {
    let env: NodeJS.ProcessEnv;
    let dir: string;
    before(async () => {
      env = await cliEnv(home, backend, `hallmark-${backend.name}`);
      dir = path.join(home.home, `cli-${backend.name}`);
      fs.mkdirSync(dir);
    });
    after(() => backend.cleanup());

    test('init prints the hierarchy and the bootstrap admin key once; a second init refuses', async () => {
      const init = await hallmarkJson(env, 'init');
      assert.deepEqual(init.cas.map((c: { name: string }) => c.name), ['root', 'issuing']);
      assert.match(init.admin.apiKey, /^hmk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
      const again = await hallmark(env, 'init');
      assert.equal(again.code, 1);
      oneLine(again.stderr);
      assert.match(again.stderr, /already exists.*refusing to overwrite/);
      const list = await hallmarkJson(env, 'ca', 'list');
      assert.equal(list.length, 2);
    });

    test('ca show and ca export --chain give a chain openssl verifies', async () => {
      const show = await hallmarkJson(env, 'ca', 'show', 'issuing');
      assert.equal(show.parent, 'root');
      assert.equal(show.keyType, 'ec-p256');
      assert.match(show.keyUri, /^pkcs11:token=hallmark-/);
      const chainFile = path.join(dir, 'chain.pem');
      await mustRun('node', [path.join(ROOT, 'bin', 'hallmark.js'), 'ca', 'export', 'issuing', '--chain', '--out', chainFile], { env });
      assert.equal(fs.readFileSync(chainFile, 'utf8').match(/BEGIN CERTIFICATE/g)?.length, 2);
      const rootFile = path.join(dir, 'root.pem');
      fs.writeFileSync(rootFile, (await hallmark(env, 'ca', 'export', 'root')).stdout);
      await mustRun('openssl', ['verify', '-CAfile', rootFile, '-untrusted', chainFile, chainFile]);
      const unknown = await hallmark(env, 'ca', 'show', 'nope');
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /no CA named "nope"; see `hallmark ca list`/);
    });

    test('cert issue, list and show', async () => {
      const { csrFile } = await opensslCsr(dir);
      const issued = await hallmarkJson(env, 'cert', 'issue', '--csr', csrFile, '--profile', 'device', '--device', 'cli-dev-1');
      assert.match(issued.serial, /^[0-9a-f]+$/);
      assert.match(issued.certificate, /^-----BEGIN CERTIFICATE-----/);
      assert.equal(issued.chain.length, 1);
      const outFile = path.join(dir, 'out.pem');
      // A key of its own: one public key is bound to one identity.
      const second = await opensslCsr(dir);
      const written = await hallmark(env, 'cert', 'issue', '--csr', second.csrFile, '--profile', 'device', '--device', 'cli-dev-2', '--days', '10', '--out', outFile);
      assert.equal(written.code, 0, written.stderr);
      assert.match(fs.readFileSync(outFile, 'utf8'), /BEGIN CERTIFICATE/);

      const colonUpper = issued.serial.toUpperCase().match(/../g).join(':');
      const shown = await hallmarkJson(env, 'cert', 'show', colonUpper);
      assert.equal(shown.serial, issued.serial);
      assert.equal(shown.status, 'active');
      assert.equal(shown.identity, 'cli-dev-1');
      assert.equal(shown.certificate, issued.certificate);

      const byDevice = await hallmarkJson(env, 'cert', 'list', '--device', 'cli-dev-1');
      assert.deepEqual(byDevice.map((c: { serial: string }) => c.serial), [issued.serial]);
      const expiringSoon = await hallmarkJson(env, 'cert', 'list', '--expiring', '30');
      assert.ok(expiringSoon.some((c: { identity: string }) => c.identity === 'cli-dev-2'), 'the 10-day certificate expires within 30 days');
      assert.ok(!expiringSoon.some((c: { identity: string }) => c.identity === 'cli-dev-1'), 'the 365-day one does not');
      const active = await hallmarkJson(env, 'cert', 'list', '--status', 'active');
      assert.ok(active.length >= 3, 'two devices and the issuing CA');
      const table = await hallmark(env, 'cert', 'list');
      assert.match(table.stdout, /^SERIAL\s+STATUS\s+PROFILE/);

      const notFound = await hallmark(env, 'cert', 'show', 'abcdef');
      assert.equal(notFound.code, 1);
      assert.match(notFound.stderr, /no certificate with serial abcdef/);
      const refused = await hallmark(env, 'cert', 'issue', '--csr', csrFile, '--profile', 'device', '--device', 'x', '--days', '9999');
      assert.equal(refused.code, 1);
      oneLine(refused.stderr);
      assert.match(refused.stderr, /exceeds the profile maximum of 825/);
    });

    test('read-only commands work without the PIN', async () => {
      const noPin = { ...env };
      delete noPin.HALLMARK_PKCS11_PIN_FILE;
      const list = await run('node', [path.join(ROOT, 'bin', 'hallmark.js'), 'ca', 'list'], { env: noPin });
      assert.equal(list.code, 0, list.stderr);
    });
  });
}
