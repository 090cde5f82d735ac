import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { BACKENDS } from './helpers/backends.js';
import { configCopy, manualClock, startInProcess, writeChainFiles, type InProcessHallmark } from './helpers/in-process.js';
import { revokeUnconfirmedCertificates } from '../src/protocols/cmp/server.js';
import { cliEnv, hallmarkJson } from './helpers/cli.js';
import { mustRun, run } from './helpers/run.js';
import { sql } from '../src/store/handle.js';
import { createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { children, readTlv, whole } from '../src/x509/der-reader.js';
import { derSequence, tlv } from '../src/x509/der.js';
import { sequenced } from './helpers/sequenced.js';

/**
 * CMP (RFC 9483, docs/cmp.md) with a client nobody here wrote: `openssl cmp`. Enrollment with a
 * one-time secret (PasswordBasedMac) by ir, cr and p10cr, with and without implicit confirmation;
 * responses signed by the CMP responder's key on the token and checked by openssl against the root;
 * genm; and the refusals: wrong secret, replayed transaction, wrong POP, unknown label, garbage.
 */

let home: TestHome;
before(async () => {
  home = await makeTestHome(['cmp-sqlite', 'cmp-postgres', 'cmp-p384']);
});
after(() => home?.cleanup());

for (const makeBackend of BACKENDS) {
  const backend = makeBackend();
  describe(`CMP on ${backend.name}`, () => {
    let hm: InProcessHallmark;
    let env: NodeJS.ProcessEnv;
    let dir: string;
    let files: ReturnType<typeof writeChainFiles>;
    const token = `cmp-${backend.name}`;
    const clock = manualClock();
    const manufacturer = { key: '', cert: '' };
    const secretFor = async (device: string) => (await hallmarkJson(env, 'token', 'create', '--device', device, '--cmp')).secret as string;
    const key = async (name: string) => {
      const file = path.join(dir, `${name}.key`);
      const made = await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file]);
      assert.equal(made.code, 0, made.stderr);
      return file;
    };
    const cmp = (args: string[]) =>
      run('openssl', ['cmp', '-server', `https://localhost:${hm.running.https}/.well-known/cmp`, '-tls_used', '-tls_trusted', files.rootFile, '-trusted', files.rootFile, ...args]);
    const issued = async (device: string) => sql(hm.ctx.store)('certificates').where({ identity: device }).orderBy('created_at', 'desc');

    before(async () => {
      dir = fs.mkdtempSync(path.join(home.home, `${token}-`));
      // A manufacturer CA whose device certificates (IDevID) may sign an ir.
      manufacturer.key = path.join(dir, 'mfr.key');
      manufacturer.cert = path.join(dir, 'mfr.pem');
      await mustRun('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', manufacturer.key, '-out', manufacturer.cert, '-subj', '/CN=Acme Manufacturing CA/O=Acme', '-days', '30', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
      const configFile = configCopy(path.join(dir, 'config'), (c) => {
        c.est = { ...(c.est ?? {}), bootstrapCas: [manufacturer.cert] };
        c.security.alerts.authFailures = { threshold: 4, credentialThreshold: 30, windowSeconds: 300, blockSeconds: 900 };
        // A label whose enrollments wait for an operator: the client polls every second.
        c.cmp = { labels: { default: { profile: 'device' }, held: { profile: 'device', manualApproval: true, retryAfterSeconds: 1 } } };
      });
      hm = await startInProcess(home, backend, token, { clock, configFile });
      env = { ...(await cliEnv(home, backend, token)), HALLMARK_CONFIG: configFile };
      files = writeChainFiles(hm, dir);
    });
    after(async () => {
      await hm?.close();
      await backend.cleanup();
    });

    test('ir with a one-time secret and implicit confirmation: openssl cmp gets a certificate for its key, the response signed by the CMP responder, the root in caPubs', async () => {
      const secret = await secretFor('cmp-dev-1');
      const newkey = await key('dev1');
      const certout = path.join(dir, 'dev1.pem');
      const cacerts = path.join(dir, 'dev1-capubs.pem');
      const r = await cmp(['-cmd', 'ir', '-ref', 'cmp-dev-1', '-secret', `pass:${secret}`, '-newkey', newkey, '-subject', '/CN=cmp-dev-1', '-implicit_confirm', '-certout', certout, '-cacertsout', cacerts]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const verified = await run('openssl', ['verify', '-CAfile', files.rootFile, '-untrusted', files.issuingFile, certout]);
      assert.match(verified.stdout, /OK/, verified.stderr);
      const pub = (await run('openssl', ['pkey', '-in', newkey, '-pubout'])).stdout;
      assert.equal((await run('openssl', ['x509', '-in', certout, '-pubkey', '-noout'])).stdout, pub, 'the certificate is for the key that proved possession');
      assert.match(fs.readFileSync(cacerts, 'utf8'), /BEGIN CERTIFICATE/);
      const rows = await issued('cmp-dev-1');
      assert.equal(rows.length, 1);
      const transaction = await sql(hm.ctx.store)('cmp_transactions').where({ sender: 'cmp-dev-1' }).first();
      assert.equal(transaction.state, 'confirmed');
      const listed = await hallmarkJson(env, 'token', 'list', '--device', 'cmp-dev-1');
      assert.deepEqual(listed.map((t: { use: string; state: string }) => [t.use, t.state]), [['cmp', 'used']]);
      assert.ok(!JSON.stringify(listed).includes(secret), 'never the secret');
      // The secret was one-time: the same again is refused, and nothing more is issued.
      const again = await cmp(['-cmd', 'ir', '-ref', 'cmp-dev-1', '-secret', `pass:${secret}`, '-newkey', newkey, '-subject', '/CN=cmp-dev-1', '-implicit_confirm', '-certout', path.join(dir, 'x.pem'), '-unprotected_errors']);
      assert.notEqual(again.code, 0);
      assert.match(again.stdout + again.stderr, /badMessageCheck|MAC does not verify/i);
      assert.equal((await issued('cmp-dev-1')).length, 1);
    });

    test('kur signed with the current certificate: openssl cmp updates the key (the old one superseded); rr signed with it revokes it, with the reason given', async () => {
      const [current] = await issued('cmp-dev-1');
      const early = await cmp(['-cmd', 'kur', '-cert', path.join(dir, 'dev1.pem'), '-key', path.join(dir, 'dev1.key'), '-newkey', await key('dev1b'), '-certout', path.join(dir, 'dev1b.pem'), '-unprotected_errors']);
      assert.notEqual(early.code, 0, 'before its renewal window, unless an operator allows it');
      assert.match(early.stdout + early.stderr, /renewal of/);
      await hallmarkJson(env, 'cert', 'allow-renewal', current.serial);
      const kur = await cmp(['-cmd', 'kur', '-cert', path.join(dir, 'dev1.pem'), '-key', path.join(dir, 'dev1.key'), '-newkey', path.join(dir, 'dev1b.key'), '-certout', path.join(dir, 'dev1b.pem')]);
      assert.equal(kur.code, 0, kur.stdout + kur.stderr);
      const rows = await issued('cmp-dev-1');
      assert.equal(rows.length, 2);
      const renewed = rows.find((r) => r.serial !== current.serial)!;
      assert.equal(rows.find((r) => r.serial === current.serial)!.superseded_by, renewed.serial);
      assert.equal((await run('openssl', ['x509', '-in', path.join(dir, 'dev1b.pem'), '-pubkey', '-noout'])).stdout, (await run('openssl', ['pkey', '-in', path.join(dir, 'dev1b.key'), '-pubout'])).stdout);

      const rr = await cmp(['-cmd', 'rr', '-cert', path.join(dir, 'dev1b.pem'), '-key', path.join(dir, 'dev1b.key'), '-oldcert', path.join(dir, 'dev1b.pem'), '-revreason', '5']);
      assert.equal(rr.code, 0, rr.stdout + rr.stderr);
      const revoked = (await issued('cmp-dev-1')).find((r) => r.serial === renewed.serial)!;
      assert.deepEqual([revoked.status, revoked.revocation_reason], ['revoked', 'cessationOfOperation']);
      // Signed with a revoked certificate, nothing more is accepted.
      const again = await cmp(['-cmd', 'kur', '-cert', path.join(dir, 'dev1b.pem'), '-key', path.join(dir, 'dev1b.key'), '-newkey', await key('dev1c'), '-certout', path.join(dir, 'dev1c.pem'), '-unprotected_errors']);
      assert.notEqual(again.code, 0);
      assert.match(again.stdout + again.stderr, /certRevoked|is revoked/);
    });

    test('cr without implicit confirmation: openssl confirms (certConf), Hallmark answers pkiConf; p10cr with a CSR', async () => {
      const secret = await secretFor('cmp-dev-2');
      const newkey = await key('dev2');
      // Another MAC and one-way function than openssl's defaults (hmac-sha1, sha256).
      const [cp, pkiConf] = [path.join(dir, 'dev2-cp.der'), path.join(dir, 'dev2-pkiconf.der')];
      const r = await cmp(['-cmd', 'cr', '-ref', 'cmp-dev-2', '-secret', `pass:${secret}`, '-mac', 'hmacWithSHA256', '-digest', 'sha384', '-newkey', newkey, '-subject', '/CN=cmp-dev-2', '-certout', path.join(dir, 'dev2.pem'), '-rspout', `${cp},${pkiConf}`]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      // The cp says until when the certConf is awaited (RFC 9810 §5.1.1.2).
      assert.match((await run('openssl', ['asn1parse', '-inform', 'DER', '-in', cp, '-i'])).stdout, /confirmWaitTime[\s\S]*GENERALIZEDTIME/);
      assert.ok(fs.existsSync(pkiConf));
      const transaction = await sql(hm.ctx.store)('cmp_transactions').where({ sender: 'cmp-dev-2' }).first();
      assert.equal(transaction.state, 'confirmed', 'certConf received and answered');

      const secret3 = await secretFor('cmp-dev-3');
      const csrKey = await key('dev3');
      const csr = path.join(dir, 'dev3.csr');
      assert.equal((await run('openssl', ['req', '-new', '-key', csrKey, '-subj', '/CN=cmp-dev-3', '-out', csr])).code, 0);
      const p10 = await cmp(['-cmd', 'p10cr', '-ref', 'cmp-dev-3', '-secret', `pass:${secret3}`, '-csr', csr, '-certout', path.join(dir, 'dev3.pem')]);
      assert.equal(p10.code, 0, p10.stdout + p10.stderr);
      assert.match((await run('openssl', ['x509', '-in', path.join(dir, 'dev3.pem'), '-noout', '-subject'])).stdout, /cmp-dev-3/);
    });

    test('ir signed with a manufacturer (IDevID) certificate: its CN is the device, nothing to spend; another CN or an unknown manufacturer is refused', async () => {
      const idevid = { key: await key('idevid'), csr: path.join(dir, 'idevid.csr'), cert: path.join(dir, 'idevid.pem') };
      await mustRun('openssl', ['req', '-new', '-key', idevid.key, '-out', idevid.csr, '-subj', '/CN=cmp-boot-1/O=Acme']);
      await mustRun('openssl', ['x509', '-req', '-in', idevid.csr, '-CA', manufacturer.cert, '-CAkey', manufacturer.key, '-CAcreateserial', '-out', idevid.cert, '-days', '30']);
      const newkey = await key('boot1');
      const r = await cmp(['-cmd', 'ir', '-cert', idevid.cert, '-key', idevid.key, '-newkey', newkey, '-subject', '/CN=cmp-boot-1', '-certout', path.join(dir, 'boot1.pem')]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal((await issued('cmp-boot-1')).length, 1);
      const other = await cmp(['-cmd', 'ir', '-cert', idevid.cert, '-key', idevid.key, '-newkey', newkey, '-subject', '/CN=cmp-boot-2', '-certout', path.join(dir, 'no.pem'), '-unprotected_errors']);
      assert.notEqual(other.code, 0);
      assert.match(other.stdout + other.stderr, /cmp-boot-2/);
      // A self-made "manufacturer": not configured, not trusted (openssl leaves a self-signed signer out of
      // extraCerts, so the message names no certificate to check: refused all the same).
      const rogue = { key: await key('rogue'), cert: path.join(dir, 'rogue.pem') };
      await mustRun('openssl', ['req', '-x509', '-key', rogue.key, '-out', rogue.cert, '-subj', '/CN=cmp-boot-3', '-days', '1']);
      const refused = await cmp(['-cmd', 'ir', '-cert', rogue.cert, '-key', rogue.key, '-newkey', newkey, '-subject', '/CN=cmp-boot-3', '-certout', path.join(dir, 'no.pem'), '-unprotected_errors']);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stdout + refused.stderr, /signerNotTrusted|badMessageCheck/);
      assert.equal((await issued('cmp-boot-3')).length, 0);
      // A device certificate from a CA that is not a configured manufacturer: signerNotTrusted.
      const foreign = { key: await key('other-ca'), cert: path.join(dir, 'other-ca.pem'), dev: path.join(dir, 'other-dev.pem'), csr: path.join(dir, 'other-dev.csr') };
      await mustRun('openssl', ['req', '-x509', '-key', foreign.key, '-out', foreign.cert, '-subj', '/CN=Acme Manufacturing CA/O=Acme', '-days', '30', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
      await mustRun('openssl', ['req', '-new', '-key', rogue.key, '-out', foreign.csr, '-subj', '/CN=cmp-boot-4/O=Acme']);
      await mustRun('openssl', ['x509', '-req', '-in', foreign.csr, '-CA', foreign.cert, '-CAkey', foreign.key, '-CAcreateserial', '-out', foreign.dev, '-days', '30']);
      const impostor = await cmp(['-cmd', 'ir', '-cert', foreign.dev, '-key', rogue.key, '-newkey', newkey, '-subject', '/CN=cmp-boot-4', '-certout', path.join(dir, 'no.pem'), '-unprotected_errors']);
      assert.notEqual(impostor.code, 0);
      assert.match(impostor.stdout + impostor.stderr, /signerNotTrusted/);
      assert.equal((await issued('cmp-boot-4')).length, 0);
    });

    test('genm: every InfoType this openssl asks for by name that Hallmark serves, each answer read back with openssl asn1parse', async () => {
      const secret = await secretFor('cmp-dev-4');
      const expected: Record<string, RegExp[]> = {
        signKeyPairTypes: [/prime256v1/],
        caCerts: [/Root/, /Issuing/],
        certReqTemplate: [/cmp-dev-4/, /prime256v1/],
        rootCaKeyUpdate: [/Root/],
        currentCRL: [/X509v3 CRL Number/],
        suppLangTags: [/UTF8STRING\s*:en/],
        // Not served (Hallmark encrypts nothing to devices): named back in unsupportedOIDs.
        preferredSymmAlg: [/unsupportedOIDs/, /preferredSymmAlg/],
      };
      for (const [infotype, patterns] of Object.entries(expected)) {
        const rspout = path.join(dir, `genp-${infotype}.der`);
        const r = await cmp(['-cmd', 'genm', '-ref', 'cmp-dev-4', '-secret', `pass:${secret}`, '-infotype', infotype, '-rspout', rspout]);
        assert.equal(r.code, 0, infotype + r.stdout + r.stderr);
        if (infotype !== 'preferredSymmAlg') assert.match(r.stdout + r.stderr, new RegExp(infotype), `${infotype}: ${r.stdout + r.stderr}`);
        // The genp body alone ([22], up to the protection): not the certificates in extraCerts.
        const lines = (await run('openssl', ['asn1parse', '-inform', 'DER', '-in', rspout, '-i'])).stdout.split('\n');
        const start = lines.findIndex((l) => /d=1 .*cont \[ 22 \]/.test(l));
        const end = lines.findIndex((l, i) => i > start && /d=1 /.test(l));
        const genp = lines.slice(start, end).join('\n');
        assert.ok(start >= 0 && end > start, `${infotype}: a genp body`);
        for (const pattern of patterns) assert.match(genp, pattern, `${infotype} answers ${pattern}:\n${genp}`);
      }
    });

    test('the CMP responder can be pinned (openssl cmp -srvcert): its certificate is the cmp signer\'s, extendedKeyUsage cmcRA', async () => {
      const responder = (await hallmarkJson(env, 'signer', 'list')).find((s: { purpose: string }) => s.purpose === 'cmp');
      assert.ok(responder, 'a signer with purpose cmp');
      const chain = path.join(dir, 'responder-chain.pem');
      await hallmarkJson(env, 'signer', 'show', responder.name, '--out', chain);
      const pinned = path.join(dir, 'responder.pem');
      fs.writeFileSync(pinned, fs.readFileSync(chain, 'utf8').split(/(?<=-----END CERTIFICATE-----\n)/)[0]!);
      assert.match((await run('openssl', ['x509', '-in', pinned, '-noout', '-ext', 'extendedKeyUsage'])).stdout, /1\.3\.6\.1\.5\.5\.7\.3\.28|CMC Registration Authority/);
      const secret = await secretFor('cmp-dev-8');
      const r = await run('openssl', ['cmp', '-server', `https://localhost:${hm.running.https}/.well-known/cmp`, '-tls_used', '-tls_trusted', files.rootFile, '-srvcert', pinned, '-cmd', 'genm', '-ref', 'cmp-dev-8', '-secret', `pass:${secret}`, '-infotype', 'caCerts']);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      // Pinned to another certificate (the issuing CA's), the same answer is refused by the client.
      const wrongPin = await run('openssl', ['cmp', '-server', `https://localhost:${hm.running.https}/.well-known/cmp`, '-tls_used', '-tls_trusted', files.rootFile, '-srvcert', files.issuingFile, '-cmd', 'genm', '-ref', 'cmp-dev-8', '-secret', `pass:${secret}`, '-infotype', 'caCerts']);
      assert.notEqual(wrongPin.code, 0);
    });

    test('PBMAC1 (RFC 9481 §6.1.1): a request openssl made, protected again here with PBKDF2 and HMAC-SHA256 (node:crypto), enrolls; with a wrong secret it is badMessageCheck, with a changed POP signature badPOP', async () => {
      const secret = await secretFor('cmp-dev-9');
      const request = path.join(dir, 'ir-pbm.der');
      // openssl writes the request, then finds no server at port 1: nothing sent.
      await run('openssl', ['cmp', '-cmd', 'ir', '-server', '127.0.0.1:1', '-ref', 'cmp-dev-9', '-secret', `pass:${secret}`, '-newkey', await key('dev9'), '-subject', '/CN=cmp-dev-9', '-implicit_confirm', '-reqout', request, '-certout', path.join(dir, 'no.pem')]);
      const pbmac1 = (password: string, corruptPop = false) => {
        const der = new Uint8Array(fs.readFileSync(request));
        const [header, body] = children(der, readTlv(der, 0));
        if (corruptPop) {
          // body [0] → CertReqMessages → CertReqMsg → popo [1] POPOSigningKey → signature BIT STRING: its last byte changed.
          const [messages] = children(der, body!);
          const [msg] = children(der, messages!);
          const popo = children(der, msg!).find((t) => t.tag === 0xa1)!;
          const signature = children(der, popo).find((t) => t.tag === 0x03)!;
          der[signature.end - 1] ^= 0x01;
        }
        // RFC 8018: PBMAC1-params { PBKDF2 { salt, iterationCount, keyLength, prf hmacWithSHA256 }, hmacWithSHA256 }
        const oid = (hex: string) => tlv(0x06, Buffer.from(hex, 'hex'));
        const hmacSha256 = derSequence(oid('2a864886f70d0209'), Uint8Array.of(0x05, 0x00));
        const salt = randomBytes(16);
        const params = derSequence(derSequence(oid('2a864886f70d01050c'), derSequence(tlv(0x04, salt), Uint8Array.of(0x02, 0x02, 0x03, 0xe8), Uint8Array.of(0x02, 0x01, 32), hmacSha256)), hmacSha256);
        const algorithm = tlv(0xa1, derSequence(oid('2a864886f70d01050e'), params));
        const fields = children(der, header!).map((f) => (f.tag === 0xa1 ? algorithm : whole(der, f)));
        const newHeader = derSequence(...fields);
        const key = pbkdf2Sync(password, salt, 1000, 32, 'sha256');
        const mac = createHmac('sha256', key).update(derSequence(newHeader, whole(der, body!))).digest();
        const file = path.join(dir, `ir-pbmac1-${password === secret ? 'right' : 'wrong'}${corruptPop ? '-pop' : ''}.der`);
        fs.writeFileSync(file, derSequence(newHeader, whole(der, body!), tlv(0xa0, tlv(0x03, Buffer.concat([Buffer.of(0), mac])))));
        return file;
      };
      const send = async (file: string) => {
        const answer = `${file}.answer`;
        const r = await run('curl', ['-sS', '-o', answer, '-w', '%{http_code}', '--cacert', files.rootFile, '-H', 'Content-Type: application/pkixcmp', '--data-binary', `@${file}`, `https://localhost:${hm.running.https}/.well-known/cmp`]);
        assert.equal(r.stdout, '200', r.stderr);
        return (await run('openssl', ['asn1parse', '-inform', 'DER', '-in', answer, '-i'])).stdout;
      };
      const wrong = await send(pbmac1('not the secret'));
      assert.match(wrong, /MAC does not verify/);
      // The right MAC over a request whose proof of possession was changed: badPOP, nothing issued.
      const badPop = await send(pbmac1(secret, true));
      assert.match(badPop, /no proof of possession/);
      assert.doesNotMatch(badPop, /MAC does not verify/);
      assert.equal((await issued('cmp-dev-9')).length, 0);
      const right = await send(pbmac1(secret));
      assert.doesNotMatch(right, /MAC does not verify|rejection/);
      assert.equal((await issued('cmp-dev-9')).length, 1, right);
    });

    test('a replayed transaction is refused (transactionIdInUse); a request without a signature POP is refused (badPOP)', async () => {
      const secret = await secretFor('cmp-dev-6');
      const reqout = path.join(dir, 'genm-request.der');
      const first = await cmp(['-cmd', 'genm', '-ref', 'cmp-dev-6', '-secret', `pass:${secret}`, '-infotype', 'signKeyPairTypes', '-reqout', reqout]);
      assert.equal(first.code, 0, first.stdout + first.stderr);
      // The same request again, byte for byte (curl, not openssl cmp, which makes a new transaction each time).
      const answer = path.join(dir, 'replay-answer.der');
      const replay = await run('curl', ['-sS', '-o', answer, '-w', '%{http_code} %{content_type}', '--cacert', files.rootFile, '-H', 'Content-Type: application/pkixcmp', '--data-binary', `@${reqout}`, `https://localhost:${hm.running.https}/.well-known/cmp`]);
      assert.equal(replay.stdout, '200 application/pkixcmp', replay.stderr);
      const parsed = await run('openssl', ['asn1parse', '-inform', 'DER', '-in', answer, '-i']);
      assert.match(parsed.stdout, /was used before/);

      const newkey = await key('dev6');
      const raVerified = await cmp(['-cmd', 'ir', '-ref', 'cmp-dev-6', '-secret', `pass:${secret}`, '-newkey', newkey, '-subject', '/CN=cmp-dev-6', '-popo', '0', '-certout', path.join(dir, 'no.pem'), '-unprotected_errors']);
      assert.notEqual(raVerified.code, 0);
      assert.match(raVerified.stdout + raVerified.stderr, /badPOP|proof of possession/i);
      assert.equal((await issued('cmp-dev-6')).length, 0);
    });

    test('a certificate never confirmed (openssl cmp -disable_confirm) is revoked once the confirmation wait is over', async () => {
      const secret = await secretFor('cmp-dev-7');
      const newkey = await key('dev7');
      const r = await cmp(['-cmd', 'ir', '-ref', 'cmp-dev-7', '-secret', `pass:${secret}`, '-newkey', newkey, '-subject', '/CN=cmp-dev-7', '-disable_confirm', '-certout', path.join(dir, 'dev7.pem')]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const [row] = await issued('cmp-dev-7');
      assert.equal(row.status, 'active');
      const deps = { store: hm.ctx.store, clock, revocation: hm.running.revocation };
      assert.deepEqual(await revokeUnconfirmedCertificates(deps), [], 'still within the wait');
      clock.advance(301_000);
      assert.deepEqual(await revokeUnconfirmedCertificates(deps), [row.serial]);
      const after = (await issued('cmp-dev-7'))[0];
      assert.deepEqual([after.status, after.revocation_reason], ['revoked', 'cessationOfOperation']);
    });

    test('failed authentications count as every credential\'s do: four wrong MACs for one device from one address block it (HTTP 429 with Retry-After), audited auth.failure', async () => {
      const secret = await secretFor('cmp-dev-10');
      const newkey = await key('dev10');
      for (let i = 0; i < 4; i++) {
        const wrong = await cmp(['-cmd', 'ir', '-ref', 'cmp-dev-10', '-secret', `pass:wrong-${i}`, '-newkey', newkey, '-subject', '/CN=cmp-dev-10', '-certout', path.join(dir, 'no.pem'), '-unprotected_errors']);
        assert.match(wrong.stdout + wrong.stderr, /badMessageCheck/);
      }
      const blocked = await cmp(['-cmd', 'ir', '-ref', 'cmp-dev-10', '-secret', `pass:${secret}`, '-newkey', newkey, '-subject', '/CN=cmp-dev-10', '-certout', path.join(dir, 'no.pem')]);
      assert.notEqual(blocked.code, 0, 'the right secret too, while blocked');
      assert.match(blocked.stdout + blocked.stderr, /429/);
      assert.equal((await issued('cmp-dev-10')).length, 0);
      // Read once chained: reading audit_events and then audit_pending could miss an entry sequenced in between.
      const audited = await sql(await sequenced(hm.ctx.store))('audit_events').where({ action: 'auth.failure', actor: 'cmp:cmp-dev-10' });
      assert.ok(audited.length >= 1, 'audited (repeats folded)');
    });

    test('a label with manual approval: openssl cmp polls (pollReq/pollRep) until an operator approves (then gets its certificate), or rejects', async () => {
      const request = async (device: string) => {
        // A deadline, not a count of sleeps: a loaded machine takes longer to get openssl's first request here.
        for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
          const row = await sql(hm.ctx.store)('enrollment_requests').where({ device }).first();
          if (row) return row;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        throw new Error(`no held request for ${device}`);
      };
      for (const [device, verdict] of [['cmp-held-1', 'approve'], ['cmp-held-2', 'reject']] as const) {
        const secret = (await hallmarkJson(env, 'token', 'create', '--device', device, '--cmp', '--label', 'held')).secret;
        const client = run('openssl', ['cmp', '-server', `https://localhost:${hm.running.https}/.well-known/cmp/p/held`, '-tls_used', '-tls_trusted', files.rootFile, '-trusted', files.rootFile, '-cmd', 'ir', '-ref', device, '-secret', `pass:${secret}`, '-newkey', await key(device), '-subject', `/CN=${device}`, '-implicit_confirm', '-certout', path.join(dir, `${device}.pem`), '-unprotected_errors', '-total_timeout', '120']);
        const row = await request(device);
        assert.equal(row.label, 'cmp:held');
        assert.equal(row.status, 'pending');
        assert.equal((await issued(device)).length, 0, 'nothing issued while it waits');
        await hallmarkJson(env, 'enrollment', verdict, row.id, ...(verdict === 'reject' ? ['--reason', 'not on the delivery list'] : []));
        const done = await client;
        if (verdict === 'approve') {
          assert.equal(done.code, 0, done.stdout + done.stderr);
          assert.match(done.stdout + done.stderr, /POLLREP|pollRep|polling/i);
          assert.equal((await issued(device)).length, 1);
          assert.equal((await sql(hm.ctx.store)('enrollment_requests').where({ id: row.id }).first()).status, 'issued');
        } else {
          assert.notEqual(done.code, 0);
          assert.match(done.stdout + done.stderr, /rejected/);
          assert.equal((await issued(device)).length, 0);
        }
      }
    });

    test('refusals: a wrong secret, another device\'s secret, a CN that is not the device, an unknown label, garbage and the wrong content type; nothing is issued', async () => {
      const secret = await secretFor('cmp-dev-5');
      const newkey = await key('dev5');
      const before = Number((await sql(hm.ctx.store)('certificates').count({ n: '*' }))[0]!.n);
      const wrong = await cmp(['-cmd', 'ir', '-ref', 'cmp-dev-5', '-secret', 'pass:not-the-secret', '-newkey', newkey, '-subject', '/CN=cmp-dev-5', '-unprotected_errors', '-certout', path.join(dir, 'no.pem')]);
      assert.notEqual(wrong.code, 0);
      assert.match(wrong.stdout + wrong.stderr, /badMessageCheck|MAC does not verify/i);
      const otherName = await cmp(['-cmd', 'ir', '-ref', 'cmp-dev-5', '-secret', `pass:${secret}`, '-newkey', newkey, '-subject', '/CN=someone-else', '-unprotected_errors', '-certout', path.join(dir, 'no.pem')]);
      assert.notEqual(otherName.code, 0);
      assert.match(otherName.stdout + otherName.stderr, /someone-else/);
      const label = await run('openssl', ['cmp', '-server', `https://localhost:${hm.running.https}/.well-known/cmp/p/nowhere`, '-tls_used', '-tls_trusted', files.rootFile, '-trusted', files.rootFile, '-cmd', 'ir', '-ref', 'cmp-dev-5', '-secret', `pass:${secret}`, '-newkey', newkey, '-subject', '/CN=cmp-dev-5', '-certout', path.join(dir, 'no.pem')]);
      assert.notEqual(label.code, 0);
      const garbage = await hm.request('POST', '/.well-known/cmp', { rawBody: 'not a PKIMessage', contentType: 'application/pkixcmp' });
      assert.equal(garbage.status, 200, 'a CMP error message');
      assert.equal(garbage.headers['content-type'], 'application/pkixcmp');
      const printed = await (async () => {
        const file = path.join(dir, 'garbage-answer.der');
        fs.writeFileSync(file, Buffer.from(garbage.body, 'latin1'));
        return file;
      })();
      assert.ok(fs.statSync(printed).size > 0);
      const wrongType = await hm.request('POST', '/.well-known/cmp', { rawBody: 'x', contentType: 'text/plain' });
      assert.equal(wrongType.status, 415);
      const big = path.join(dir, 'big.der');
      fs.writeFileSync(big, Buffer.alloc(70_000, 0x30));
      const curl = (url: string, file: string) => run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', files.rootFile, '-H', 'Content-Type: application/pkixcmp', '--data-binary', `@${file}`, url]);
      assert.equal((await curl(`https://localhost:${hm.running.https}/.well-known/cmp`, big)).stdout, '413');
      assert.equal((await curl(`https://localhost:${hm.running.https}/.well-known/cmp/p/nowhere`, path.join(dir, 'dev5.key'))).stdout, '404');
      assert.equal((await hm.request('GET', '/.well-known/cmp')).status, 405);
      const after = Number((await sql(hm.ctx.store)('certificates').count({ n: '*' }))[0]!.n);
      assert.equal(after, before, 'nothing issued');
    });
  });
}

describe('CMP under an ec-p384 issuing CA', () => {
  let hm: InProcessHallmark;
  let env: NodeJS.ProcessEnv;
  const backend = BACKENDS[0]!();
  after(async () => {
    await hm?.close();
    await backend.cleanup();
  });

  test('explicit confirmation: openssl hashes the certificate with SHA-384 (its signature\'s hash, RFC 9810 §5.3.18) and Hallmark confirms it', async () => {
    const dir = fs.mkdtempSync(path.join(home.home, 'cmp-p384-'));
    const configFile = configCopy(path.join(dir, 'config'), (c) => {
      c.cas[1].key = 'ec-p384';
    });
    hm = await startInProcess(home, backend, 'cmp-p384', { configFile });
    env = { ...(await cliEnv(home, backend, 'cmp-p384')), HALLMARK_CONFIG: configFile };
    const files = writeChainFiles(hm, dir);
    const secret = (await hallmarkJson(env, 'token', 'create', '--device', 'cmp-384', '--cmp')).secret as string;
    const newkey = path.join(dir, 'k.pem');
    await mustRun('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', newkey]);
    const certout = path.join(dir, 'c.pem');
    const r = await run('openssl', ['cmp', '-server', `https://localhost:${hm.running.https}/.well-known/cmp`, '-tls_used', '-tls_trusted', files.rootFile, '-trusted', files.rootFile, '-cmd', 'ir', '-ref', 'cmp-384', '-secret', `pass:${secret}`, '-newkey', newkey, '-subject', '/CN=cmp-384', '-certout', certout]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(await mustRun('openssl', ['x509', '-in', certout, '-noout', '-text']), /ecdsa-with-SHA384/);
    const transaction = await sql(hm.ctx.store)('cmp_transactions').where({ sender: 'cmp-384' }).first();
    assert.equal(transaction.state, 'confirmed', 'certConf accepted');
  });
});
