import { sql } from '../src/store/handle.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import type { AttestedKey } from '../src/attestation/attested-key.js';
import fs from 'node:fs';
import path from 'node:path';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AuthorityKeyIdentifier,
  BaseCRLNumber,
  CRLNumber,
  DistributionPointName,
  Extension,
  GeneralName,
  IssuingDistributionPoint,
  ExtendedKeyUsage,
  KeyIdentifier,
  Name,
  SubjectPublicKeyInfo,
  TBSCertList,
  Time,
  id_ce_authorityKeyIdentifier,
  id_ce_cRLNumber,
  id_ce_deltaCRLIndicator,
  id_ce_extKeyUsage,
  id_ce_issuingDistributionPoint,
  type Extension as Ext,
} from '@peculiar/asn1-x509';
import { makeTestHome, type TestHome } from './helpers/hsm.js';
import { sqliteBackend } from './helpers/backends.js';
import { startTestCa, type TestCa } from './helpers/ca.js';
import { opensslCsr } from './helpers/csr.js';
import { mustRun } from './helpers/run.js';
import { hallmark } from './helpers/cli.js';
import { CERTIFICATE_RULES, CRL_RULES, OCSP_RULES, lintCertificate, lintCrl, lintOcspResponse, tbsOf } from '../src/lint/index.js';
import { encodeTbsCertificate, type CertificateTemplate } from '../src/x509/certificate-builder.js';
import {
  authorityKeyIdentifier,
  basicConstraints,
  extendedKeyUsage,
  keyIdentifier,
  keyUsage,
  subjectAltName,
  subjectKeyIdentifier,
} from '../src/x509/extensions.js';
import { buildName } from '../src/x509/names.js';
import { algorithmIdentifier } from '../src/x509/signature-algorithms.js';
import { issueCertificate } from '../src/ca/issue.js';
import { requestForOwnKey } from '../src/x509/csr.js';
import { encodeResponseData, sha1CertId } from '../src/x509/ocsp.js';
import { rawSubject } from '../src/x509/certificate-fields.js';
import { sequenced } from './helpers/sequenced.js';

let home: TestHome;
let ca: TestCa;
const backend = sqliteBackend();
before(async () => {
  home = await makeTestHome(['lint']);
  ca = await startTestCa(home, backend, 'lint');
});
after(async () => {
  await ca?.close();
  home?.cleanup();
});

const DAY = 86_400_000;
const spki = () => AsnConvert.parse(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' }), SubjectPublicKeyInfo);
const replace = (exts: Ext[], oid: string, ext?: Ext) => [...exts.filter((e) => e.extnID !== oid), ...(ext ? [ext] : [])];

function leaf(mutate: (t: CertificateTemplate & { signature: AlgorithmIdentifier }) => void = () => {}) {
  const issuer = ca.issue.issuers.get('issuing');
  const key = spki();
  const now = Date.now();
  const t = {
    serial: Uint8Array.of(0x42, 1, 2, 3, 4, 5, 6, 7, 8),
    issuer: issuer.subject,
    subject: buildName([['CN', 'dev-1'], ['O', 'Hallmark Devices']]),
    notBefore: new Date(Math.floor(now / 1000) * 1000),
    notAfter: new Date(Math.floor((now + 365 * DAY) / 1000) * 1000),
    spki: key,
    extensions: [
      basicConstraints(false),
      keyUsage(['digitalSignature']),
      extendedKeyUsage(['clientAuth']),
      subjectKeyIdentifier(keyIdentifier(key)),
      authorityKeyIdentifier(issuer.ski),
      subjectAltName({ dns: [], uri: ['urn:dev:hallmark:dev-1'], ip: [], email: [] }, false),
    ],
    signature: algorithmIdentifier(issuer.signer.algorithm),
  };
  mutate(t);
  return lintCertificate(encodeTbsCertificate(t, t.signature), issuer.lint);
}

/** A subordinate CA certificate under the root (which has no pathLen limit). */
function subCa(mutate: (t: CertificateTemplate & { signature: AlgorithmIdentifier }) => void = () => {}) {
  const root = ca.issue.issuers.get('root');
  const key = spki();
  const now = Date.now();
  const t = {
    serial: Uint8Array.of(0x21, 9, 9, 9, 9, 9, 9, 9),
    issuer: root.subject,
    subject: buildName([['CN', 'Another Issuing CA'], ['O', 'Hallmark']]),
    notBefore: new Date(Math.floor(now / 1000) * 1000),
    notAfter: new Date(Math.floor((now + 365 * DAY) / 1000) * 1000),
    spki: key,
    extensions: [basicConstraints(true, 0), keyUsage(['keyCertSign', 'cRLSign']), subjectKeyIdentifier(keyIdentifier(key)), authorityKeyIdentifier(root.ski)],
    signature: algorithmIdentifier(root.signer.algorithm),
  };
  mutate(t);
  return lintCertificate(encodeTbsCertificate(t, t.signature), root.lint);
}

const rulesOf = (findings: { rule: string }[]) => [...new Set(findings.map((f) => f.rule))].sort();

describe('each deliberately broken template is caught by exactly its rule', () => {
  test('the unbroken templates are clean', () => {
    assert.deepEqual(leaf(), []);
    assert.deepEqual(subCa(), []);
  });

  const certificateCases: [string, () => { rule: string }[]][] = [
    ['serial-number', () => leaf((t) => (t.serial = new Uint8Array(21).fill(0x11)))],
    ['issuer-name', () => leaf((t) => (t.issuer = buildName([['CN', 'Somebody Else']])))],
    ['validity-within-issuer', () => leaf((t) => (t.notAfter = new Date(ca.issue.issuers.get('issuing').notAfter.getTime() + DAY)))],
    ['validity-encoding', () => leaf((t) => Object.assign(t, { notBefore: new Time({ generalTime: t.notBefore }) }))],
    ['subject-empty-needs-critical-san', () => leaf((t) => (t.subject = new Name([])))],
    ['san-syntax', () => leaf((t) => (t.extensions = replace(t.extensions, '2.5.29.17', subjectAltName({ dns: ['bad_label.example'], uri: [], ip: [], email: [] }, false))))],
    ['authority-key-id', () => leaf((t) => (t.extensions = replace(t.extensions, id_ce_authorityKeyIdentifier, authorityKeyIdentifier(new Uint8Array(20).fill(1)))))],
    ['subject-key-id', () => subCa((t) => (t.extensions = replace(t.extensions, '2.5.29.14')))],
    ['basic-constraints', () => subCa((t) => (t.extensions = replace(t.extensions, '2.5.29.19', new Extension({ ...basicConstraints(true, 0), critical: false }))))],
    ['key-usage', () => leaf((t) => (t.extensions = replace(t.extensions, '2.5.29.15', keyUsage(['digitalSignature', 'keyEncipherment']))))],
    [
      'eku-consistent-with-key-usage',
      () =>
        leaf((t) => {
          t.extensions = replace(t.extensions, '2.5.29.15', keyUsage(['nonRepudiation']));
          t.extensions = replace(t.extensions, id_ce_extKeyUsage, extendedKeyUsage(['serverAuth']));
        }),
    ],
    ['no-duplicate-extensions', () => leaf((t) => t.extensions.push(subjectAltName({ dns: [], uri: ['urn:x:y'], ip: [], email: [] }, false)))],
    ['signature-algorithm', () => leaf((t) => (t.signature = new AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.3' })))],
    ['ocsp-responder-extensions', () => leaf((t) => (t.extensions = replace(t.extensions, id_ce_extKeyUsage, new Extension({ extnID: id_ce_extKeyUsage, critical: false, extnValue: new OctetString(AsnConvert.serialize(new ExtendedKeyUsage(['1.3.6.1.5.5.7.3.9']))) }))))],
  ];
  for (const [rule, make] of certificateCases) test(`certificate: ${rule}`, () => assert.deepEqual(rulesOf(make()), [rule]));

  test('every certificate rule has a case', () => {
    assert.deepEqual(CERTIFICATE_RULES.map((r) => r.name).sort(), certificateCases.map(([r]) => r).sort());
  });

  /** A TBSCertList header as the CRL builder lints it (entries are encoded separately). */
  function crl(mutate: (t: TBSCertList, now: Date) => void = () => {}, previous?: bigint) {
    const issuer = ca.issue.issuers.get('issuing');
    const now = new Date();
    const t = new TBSCertList({
      version: 1,
      signature: algorithmIdentifier(issuer.signer.algorithm),
      issuer: AsnConvert.parse(rawSubject(issuer.certificate), Name),
      thisUpdate: new Time(new Date(now.getTime() - 1000)),
      nextUpdate: new Time(new Date(now.getTime() + DAY)),
      crlExtensions: [
        new Extension({ extnID: id_ce_authorityKeyIdentifier, critical: false, extnValue: new OctetString(AsnConvert.serialize(new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(new Uint8Array(issuer.ski).buffer) }))) }),
        new Extension({ extnID: id_ce_cRLNumber, critical: false, extnValue: new OctetString(AsnConvert.serialize(new CRLNumber(7))) }),
      ],
    });
    mutate(t, now);
    return lintCrl(new Uint8Array(AsnConvert.serialize(t)), issuer.lint, now, previous);
  }
  const crlCases: [string, () => { rule: string }[]][] = [
    ['crl-issuer-name', () => crl((t) => (t.issuer = buildName([['CN', 'Other']])))],
    ['crl-authority-key-id', () => crl((t) => (t.crlExtensions = t.crlExtensions!.filter((e) => e.extnID !== id_ce_authorityKeyIdentifier)))],
    ['crl-number', () => crl(() => {}, 7n)],
    ['crl-update-times', () => crl((t, now) => (t.nextUpdate = new Time(new Date(now.getTime() - 1000))))],
    // A delta CRL indicator that is not critical, and names a base no older than the delta.
    ['crl-scope', () => crl((t) => t.crlExtensions!.push(new Extension({ extnID: id_ce_deltaCRLIndicator, critical: false, extnValue: new OctetString(AsnConvert.serialize(new BaseCRLNumber(7))) })))],
  ];
  test('a partitioned delta CRL header as the builder makes it is clean', () => {
    const idp = new IssuingDistributionPoint({ distributionPoint: new DistributionPointName({ fullName: [new GeneralName({ uniformResourceIdentifier: 'http://x/crl/issuing/3.crl' })] }), onlyContainsUserCerts: true });
    const findings = crl((t) =>
      t.crlExtensions!.push(
        new Extension({ extnID: id_ce_issuingDistributionPoint, critical: true, extnValue: new OctetString(AsnConvert.serialize(idp)) }),
        new Extension({ extnID: id_ce_deltaCRLIndicator, critical: true, extnValue: new OctetString(AsnConvert.serialize(new BaseCRLNumber(5))) }),
      ),
    );
    assert.deepEqual(findings, []);
  });
  test('the unbroken CRL header is clean', () => assert.deepEqual(crl(), []));
  for (const [rule, make] of crlCases) test(`CRL: ${rule}`, () => assert.deepEqual(rulesOf(make()), [rule]));
  test('every CRL rule has a case', () => assert.deepEqual(CRL_RULES.map((r) => r.name).sort(), crlCases.map(([r]) => r).sort()));

  async function ocsp(options: { nextUpdate?: Date; responderProfile?: string } = {}) {
    const signer = await ca.ctx.keys!.createKey({ token: 'lint', object: `lint-responder-${Math.random()}` }, 'ec-p256');
    const responder = await issueCertificate(ca.issue, { csr: requestForOwnKey(signer.spki), profile: options.responderProfile ?? 'ocsp-signer', identity: 'issuing', issuer: 'issuing', requester: { kind: 'cli' as const }, actor: 'test' });
    const now = new Date();
    const thisUpdate = new Date(Math.floor(now.getTime() / 1000) * 1000 - 1000);
    const tbs = encodeResponseData({
      responderKeyHash: new Uint8Array(20),
      producedAt: thisUpdate,
      thisUpdate,
      nextUpdate: options.nextUpdate ?? new Date(now.getTime() + 3_600_000),
      answers: [{ certId: sha1CertId(new Uint8Array(20), new Uint8Array(20), '01'), status: { status: 'good' } }],
    });
    return lintOcspResponse(tbs, responder.der, now);
  }
  const ocspCases: [string, () => Promise<{ rule: string }[]>][] = [
    ['ocsp-update-times', () => ocsp({ nextUpdate: new Date(Date.now() - 1000) })],
    ['ocsp-delegated-responder', () => ocsp({ responderProfile: 'device' })],
  ];
  test('an unbroken OCSP response is clean', async () => assert.deepEqual(await ocsp(), []));
  for (const [rule, make] of ocspCases) test(`OCSP: ${rule}`, async () => assert.deepEqual(rulesOf(await make()), [rule]));
  test('every OCSP rule has a case', () => assert.deepEqual(OCSP_RULES.map((r) => r.name).sort(), ocspCases.map(([r]) => r).sort()));
});

/** An attested key as redeemTpmChallenge returns one, for a key made here (the lint is what is tested). */
const attestedKeyFor = (spki: Buffer): AttestedKey => ({
  attested: 'tpm',
  spkiDer: new Uint8Array(spki),
  ek: { id: 'ab'.repeat(32), spkiDer: new Uint8Array(spki), certificate: { serial: '1a2b', issuer: 'CN=TPM Manufacturer CA', authorityKeyId: 'cd'.repeat(20), manufacturer: '00001014' } },
  challenge: 'lint',
  evidence: { kind: 'creation', clock: '1', resetCount: 0, restartCount: 0, safe: true, firmwareVersion: '1' },
});

describe('what Hallmark signs lints clean', () => {
  test('every profile, both CA certificates', async () => {
    const dir = fs.mkdtempSync(path.join(home.home, 'profiles-'));
    for (const [name, profile] of ca.ctx.config.profiles) {
      // localhost: one of the configured service names, which the shipped tls-server profile accepts.
      const { csrPem } = await opensslCsr(dir, { key: profile.keyTypes.includes('ec-p256') ? 'ec-p256' : 'rsa-3072', subject: '/CN=localhost', addext: name === 'tls-server' ? ['subjectAltName=DNS:localhost'] : [] });
      const identity = profile.identity.required ? (name === 'ocsp-signer' ? 'issuing' : 'lint-subject') : undefined;
      // A profile that requires TPM attestation takes an attested key (as attestation/redeem.ts makes one), and names the TPM in its SAN.
      const attested = profile.attestation?.required ? attestedKeyFor(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' })) : undefined;
      const csr = attested ? requestForOwnKey(attested.spkiDer) : csrPem;
      const issued = await issueCertificate(ca.issue, { csr, profile: name, identity, attestation: attested, requester: { kind: 'cli' as const }, actor: 'test' });
      assert.deepEqual(lintCertificate(tbsOf(issued.der), ca.issue.issuers.get(profile.issuer).lint), [], name);
      if (attested) assert.match(new X509Certificate(issued.der).subjectAltName ?? '', /URI:urn:dev:hallmark:lint-subject/);
    }
    const root = ca.issue.issuers.get('root');
    assert.deepEqual(lintCertificate(tbsOf(root.certificate), root.lint, { selfIssued: true }), []);
    assert.deepEqual(lintCertificate(tbsOf(ca.issue.issuers.get('issuing').certificate), root.lint), []);
  });

  test('a lint failure blocks the signature, names the rule, writes no certificate and is audited', async () => {
    const issuing = ca.issue.issuers.get('issuing');
    // An issuer record whose lint view disagrees with the certificate it signs (wrong SKI).
    const wrong = { ...issuing, lint: { ...issuing.lint, ski: new Uint8Array(20) } };
    const broken = { ...ca.issue, issuers: { ...ca.issue.issuers, get: () => wrong, exact: () => wrong } };
    const count = async () => Number((await sql(ca.ctx.store)('certificates').count({ n: '*' }))[0]!.n);
    const before = await count();
    const signer = await ca.ctx.keys!.createKey({ token: 'lint', object: 'lint-refused' }, 'ec-p256');
    await assert.rejects(issueCertificate(broken, { csr: requestForOwnKey(signer.spki), profile: 'device', identity: 'refused-1', requester: { kind: 'cli' as const }, actor: 'test' }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'lint_failed');
      assert.match(e.message, /authority-key-id \(RFC 5280 §4\.2\.1\.1\)/);
      return true;
    });
    assert.equal(await count(), before);
    assert.ok(await sql(await sequenced(ca.ctx.store))('audit_events').where({ action: 'certificate.lint', outcome: 'failure' }).first());
  });
});

describe('hallmark lint on certificates made by openssl req -x509', () => {
  const cases: [string, string[], string[]][] = [
    ['a well-formed CA', ['-addext', 'keyUsage=critical,keyCertSign,cRLSign'], []],
    ['serial zero, EC key with keyEncipherment, non-critical key usage', ['-set_serial', '0', '-addext', 'keyUsage=keyEncipherment,keyCertSign'], ['key-usage', 'serial-number']],
    ['a DNS name with an underscore', ['-addext', 'keyUsage=critical,keyCertSign', '-addext', 'subjectAltName=DNS:under_score.example'], ['san-syntax']],
    ['a validity past 2049 (GeneralizedTime is right) and non-critical basic constraints', ['-days', '10000', '-addext', 'keyUsage=critical,keyCertSign', '-addext', 'basicConstraints=CA:TRUE'], ['basic-constraints']],
  ];
  for (const [what, extra, expected] of cases) {
    test(what, async () => {
      const dir = fs.mkdtempSync(path.join(home.home, 'x509-'));
      const file = path.join(dir, 'cert.pem');
      await mustRun('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(dir, 'k.pem'), '-subj', '/CN=Openssl Made', '-out', file, ...extra]);
      const result = await hallmark(home.env, 'lint', file, '--json');
      const report = JSON.parse(result.stdout);
      assert.deepEqual(rulesOf(report.findings), expected, JSON.stringify(report.findings));
      assert.equal(result.code, expected.length ? 1 : 0);
    });
  }

  test('a CRL signed by Hallmark lints clean against its issuer; garbage is a clear error', async () => {
    const dir = fs.mkdtempSync(path.join(home.home, 'crl-'));
    const { generateCrl } = await import('../src/ca/crl.js');
    const { crlDeps } = await import('../src/app/context.js');
    const row = await generateCrl(crlDeps(ca.ctx, ca.issue.issuers), { ca: 'issuing', shard: null }, 'test');
    fs.writeFileSync(path.join(dir, 'issuing.crl'), row.der);
    const result = await hallmark(home.env, 'lint', path.join(dir, 'issuing.crl'), '--issuer', ca.issuingFile, '--json');
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.equal(JSON.parse(result.stdout).kind, 'crl');
    fs.writeFileSync(path.join(dir, 'junk.der'), 'not a certificate');
    const junk = await hallmark(home.env, 'lint', path.join(dir, 'junk.der'));
    assert.equal(junk.code, 1);
    assert.match(junk.stderr, /is not a certificate or CRL Hallmark can read/);
  });
});
