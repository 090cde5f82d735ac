import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { CA_KEY_TYPES } from '../x509/key-types.js';
import { configError } from '../base/errors.js';
import { describeZodError } from '../base/schema-errors.js';
import { loadProfiles, type Profile } from '../profiles/load.js';
import { fromPemBlocks } from '../x509/pem.js';

const caName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, at most 63');

/** Distinguished name as attribute → value, in the order written (RFC 4514 short names). */
export const distinguishedName = z.partialRecord(z.enum(['CN', 'O', 'OU', 'C', 'L', 'ST', 'serialNumber']), z.string().min(1).max(64));

const caSchema = z.strictObject({
  name: caName.describe('The CA\'s name: in URLs (/ca/<name>.crt, /crl/<name>.crl), profiles (issuer) and the CLI'),
  parent: caName.optional().describe('The CA that signs this one; absent for the root (one root, listed first)'),
  subject: distinguishedName.describe('Subject as attribute → value (CN, O, OU, C, L, ST, serialNumber)'),
  key: z.enum(CA_KEY_TYPES).describe('Key made on the token by hallmark init'),
  validityDays: z.number().int().positive().max(36500).describe('Lifetime of the CA certificate'),
  pathLength: z.number().int().min(0).max(8).optional().describe('basicConstraints pathLenConstraint (0: it issues only end-entity certificates)'),
  crl: z
    .strictObject({
      shards: z
        .number()
        .int()
        .min(0)
        .max(4096)
        .default(0)
        .describe('Partitioned CRLs (RFC 5280 §5.2.5): each certificate issued names one of this many shards, /crl/<ca>/<shard>.crl, in its CRL distribution point, chosen at issuance and kept; 0: one CRL, /crl/<ca>.crl. The whole CRL is published either way.'),
      deltas: z.boolean().default(false).describe('Delta CRLs (RFC 5280 §5.2.4) for the whole CRL and every shard, at /crl/<ca>/delta.crl and /crl/<ca>/<shard>-delta.crl: a revocation signs a new delta, the complete CRLs are re-signed every revocation.crl.refreshAfterHours (relying parties that do not apply deltas see revocations that late).'),
    })
    .default({ shards: 0, deltas: false })
    .describe('How this CA publishes its CRLs'),
});

const securitySchema = z.strictObject({
  sessions: z
    .strictObject({ idleMinutes: z.number().positive().max(1440).describe('An operator session ends after this long unused'), maxHours: z.number().positive().max(168).describe('and after this long in any case') })
    .default({ idleMinutes: 15, maxHours: 8 })
    .describe('Operator sessions (password + TOTP)'),
  /** Requests per minute per client address, per route group; 0 turns a limit off. */
  rateLimits: z
    .strictObject({
      auth: z.number().int().min(0).describe('Sign-in and enrollment-secret attempts'),
      enrollment: z.number().int().min(0).describe('EST and /api/v1/enroll requests'),
      provisioning: z.number().int().min(0).describe('Factory provisioning requests'),
    })
    .default({ auth: 30, enrollment: 600, provisioning: 6000 })
    .describe('Requests per minute per client address, per route group; 0 turns a limit off'),
  alerts: z
    .strictObject({
      webhookUrl: z.url().nullable().default(null).describe('Alerts are POSTed here as JSON (and always logged)'),
      authFailures: z
        .strictObject({
          threshold: z.number().int().positive().describe('Failures of one credential from one address (or, naming no known credential, of one address) that block it.'),
          credentialThreshold: z.number().int().positive().default(30).describe('Failures of one credential from any addresses that block the credential everywhere.'),
          windowSeconds: z.number().int().positive().describe('The window failures are counted in'),
          blockSeconds: z.number().int().min(0).describe('How long a block lasts (0: alert only)'),
        })
        .default({ threshold: 10, credentialThreshold: 30, windowSeconds: 300, blockSeconds: 900 }),
      revocationBurst: z
        .strictObject({ threshold: z.number().int().positive().describe('Revocations that raise the alert'), windowSeconds: z.number().int().positive().describe('within this many seconds') })
        .default({ threshold: 100, windowSeconds: 300 })
        .describe('An alert when this many revocations happen within the window'),
      expiryWarningDays: z.number().int().positive().default(30).describe('Alert when a CA, responder or HTTPS certificate expires within this many days'),
      checkIntervalSeconds: z.number().int().positive().default(300).describe('Seconds between periodic checks (expiry, CRL freshness) and the hourly/daily summaries.'),
      summaries: z.boolean().default(true).describe('Hourly and daily summaries to the log and webhook'),
    })
    .default({
      webhookUrl: null,
      authFailures: { threshold: 10, credentialThreshold: 30, windowSeconds: 300, blockSeconds: 900 },
      revocationBurst: { threshold: 100, windowSeconds: 300 },
      expiryWarningDays: 30,
      checkIntervalSeconds: 300,
      summaries: true,
    }),
});

export type SecurityConfig = z.infer<typeof securitySchema>;

const revocationSchema = z.strictObject({
  crl: z
    .strictObject({
      validityHours: z.number().positive().max(24 * 31).describe('nextUpdate − thisUpdate.'),
      refreshAfterHours: z.number().positive().describe('A new CRL is signed once this much of the validity has passed, well before nextUpdate.'),
      coalesceMs: z.number().int().min(0).max(60_000).describe('Revocations within this window share one new CRL.'),
    })
    .refine((c) => c.refreshAfterHours < c.validityHours, 'refreshAfterHours must be less than validityHours')
    .default({ validityHours: 24, refreshAfterHours: 12, coalesceMs: 1000 }),
  ocsp: z
    .strictObject({
      validityMinutes: z.number().positive().max(7 * 24 * 60).describe('nextUpdate − thisUpdate of each response (RFC 5019 §2.2.4).'),
      refreshBeforeMinutes: z.number().positive().describe('Cached responses are re-signed this long before their nextUpdate.'),
      pollSeconds: z.number().positive().max(60).describe('How often every instance loads what the others wrote: pre-signed responses, CRLs, CA generations, blocks.'),
      statusPollMs: z
        .number()
        .int()
        .min(50)
        .max(60_000)
        .default(250)
        .describe('How often every instance looks for status changes made elsewhere (another instance, the CLI) and stops answering from what it held about them: about the longest a revocation made elsewhere is answered good here. On PostgreSQL, instances are told of each change as it commits (LISTEN/NOTIFY) and this look runs only while that is not working.'),
      presign: z.boolean().default(true).describe('Keep a signed response ready for every issued, unexpired certificate (RFC 5019 pre-produced responses), in the store for every instance and in each one\'s memory.'),
      presignPerSecond: z.number().int().min(0).default(0).describe('At most this many pre-signed responses a second (0: as fast as the token signs, one batch at a time).'),
      nonces: z
        .enum(['echo', 'ignore'])
        .default('echo')
        .describe('A request nonce (RFC 8954): echo it (the answer is signed for that request alone), or ignore it (RFC 8954 §3 lets a responder: the answer is the cached one).'),
      noncesPerMinute: z.number().int().min(0).default(600).describe('Live-signed answers to nonce requests per client address a minute (token bucket; 0: no limit); beyond it, tryLater.'),
    })
    .refine((o) => o.refreshBeforeMinutes < o.validityMinutes, 'refreshBeforeMinutes must be less than validityMinutes')
    .default({ validityMinutes: 60, refreshBeforeMinutes: 10, pollSeconds: 1, statusPollMs: 250, nonces: 'echo', noncesPerMinute: 600, presign: true, presignPerSecond: 0 }),
});

export type RevocationConfig = z.infer<typeof revocationSchema>;

const estLabelSchema = z.strictObject({
  profile: z.string().describe('The profile certificates enrolled under this label get (its requesters.enrollment must be true)'),
  enroll: z.array(z.enum(['token', 'bootstrap'])).min(1).describe('Who may enroll: a one-time secret (HTTP Basic), and/or a certificate from a bootstrap CA.'),
  channelBinding: z.boolean().default(false).describe('Require the TLS channel binding in every CSR\'s challengePassword (RFC 7030 §3.5); checked whenever present.'),
  manualApproval: z.boolean().default(false).describe('Hold every enrollment for an operator\'s approval (RFC 7030 §4.2.3: 202 with Retry-After until decided).'),
  retryAfterSeconds: z.number().int().positive().max(86_400).default(60).describe('Seconds the client is told to wait before repeating a held request.'),
});

const estSchema = z.strictObject({
  labels: z.record(z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/), estLabelSchema).default({ default: { profile: 'device', enroll: ['token', 'bootstrap'], channelBinding: false, manualApproval: false, retryAfterSeconds: 60 } }).describe('`default` serves /.well-known/est/<op>; others /.well-known/est/<label>/<op>.'),
  bootstrapCas: z.array(z.string()).default([]).describe('PEM files of manufacturer CAs whose device certificates (IDevID) may enroll; relative to this file.'),
  renewal: z
    .strictObject({
      fromFraction: z.number().min(0).max(1).describe('Renewal is refused before this fraction of the lifetime has passed (0: any time).'),
      revokeSupersededAfterHours: z.number().min(0).nullable().describe('Superseded certificates are revoked (reason superseded) this long after their renewal; null keeps them.'),
    })
    .default({ fromFraction: 0.66, revokeSupersededAfterHours: 24 }),
  tokenExpiryHours: z.number().positive().default(168).describe('Default lifetime of hallmark token create secrets'),
});

export type EstConfig = z.infer<typeof estSchema>;

const factorySchema = z.strictObject({
  staleReservationSeconds: z.number().positive().default(120).describe('A device reservation older than this was left by a request that died; the next request takes it over.'),
  reservationLeaseSeconds: z.number().positive().default(15).describe('An instance that missed its heartbeat (status poll) this long is dead: its reservations are taken over.'),
  abandonedIntentSeconds: z.number().positive().default(600).describe('Intents still pending after this long belong to requests that died: marked failed and audited.'),
});

const operationsSchema = z.strictObject({
  /** /metrics on the plain-HTTP listener, answered only to these client addresses (loopback by default). */
  metrics: z
    .strictObject({ enabled: z.boolean().describe('Serve /metrics'), allowFrom: z.array(z.string()).describe('Client addresses answered (others get 403)') })
    .default({ enabled: true, allowFrom: ['127.0.0.1', '::1', '::ffff:127.0.0.1'] })
    .describe('/metrics on the plain-HTTP listener, answered only to these client addresses'),
});

const hsmSchema = z.strictObject({
  /**
   * Threads signing large batches, each with its own session. SoftHSM signs on the calling thread's
   * CPU, and two threads sharing the cores with the service cost more CPU per signature than one
   * (docs/issuance-performance.md); an HSM with its own crypto processors signs in parallel: give it more.
   */
  signingThreads: z.number().int().min(1).max(64).default(1).describe('Threads signing large batches, one PKCS#11 session each: 1 for SoftHSM; an HSM with its own crypto processors: the signatures it works on at once'),
});

const cmpLabelSchema = z.strictObject({
  profile: z.string().describe('The profile certificates enrolled under this CMP label get (its requesters.enrollment must be true)'),
  implicitConfirm: z.boolean().default(true).describe('Grant implicit confirmation when a client asks for it (RFC 9483 §4.1.1); false: every certificate waits for its certConf.'),
  confirmWaitSeconds: z.number().int().min(10).max(86_400).default(300).describe('A certificate not confirmed (certConf) within this many seconds is revoked.'),
  bootstrap: z.boolean().default(true).describe('Accept an ir signed with a manufacturer (IDevID) certificate from est.bootstrapCas, whose CN is the device id.'),
  manualApproval: z.boolean().default(false).describe('Hold every ir, cr and p10cr for an operator\'s approval (hallmark enrollment approve, the console); the client polls (RFC 9483 §4.4).'),
  retryAfterSeconds: z.number().int().positive().max(86_400).default(10).describe('checkAfter in a pollRep: seconds the client waits before polling again.'),
});

const cmpSchema = z.strictObject({
  enabled: z.boolean().default(true).describe('Serve CMP (RFC 9483) at /.well-known/cmp on the HTTPS listener'),
  labels: z
    .record(z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/), cmpLabelSchema)
    .default({ default: { profile: 'device', implicitConfirm: true, confirmWaitSeconds: 300, bootstrap: true, manualApproval: false, retryAfterSeconds: 10 } })
    .describe('`default` serves /.well-known/cmp; others /.well-known/cmp/p/<label>.'),
  maxIterations: z.number().int().min(1).max(10_000_000).default(10_000).describe('The most PasswordBasedMac iterations a request may ask for (the cost is the server\'s: each unused secret of the device named is tried; openssl cmp asks for 500).'),
});

const tsaSchema = z.strictObject({
  enabled: z.boolean().default(true).describe('Serve the RFC 3161 time-stamping authority at POST /tsa on the plain-HTTP listener (its key made on the token at the first start)'),
  policy: z
    .string()
    .regex(/^[0-2](\.(0|[1-9][0-9]*))+$/)
    .default('2.25.288733114724049949062988511445048646288')
    .describe('The TSA policy OID every time-stamp names (TSTInfo.policy); a request naming another is refused (unacceptedPolicy). The default is a UUID OID (X.667) of this project; set your own'),
  accuracySeconds: z.number().int().min(1).max(60).default(1).describe('The accuracy each time-stamp states: how far genTime may be from UTC (keep the host on NTP within it)'),
  perMinute: z.number().int().min(0).default(600).describe('Time-stamps per client address a minute (token bucket; 0: no limit); beyond it, 429 with Retry-After'),
});

const scepSchema = z.strictObject({
  enabled: z.boolean().default(true).describe('Serve SCEP (RFC 8894) at /scep and /scep/<label> on both listeners; its labels are est.labels (profile, one-time secrets, manual approval). The RA key (RSA) is made on the token at the first start'),
});

const attestationSchema = z.strictObject({
  tpmRoots: z.array(z.string()).default([]).describe('PEM files of the TPM manufacturers\' EK CA certificates (roots and intermediates) an EK certificate must chain to, for attested enrollment; relative to this file.'),
  challengeSeconds: z.number().int().min(10).max(3600).default(300).describe('How long an attestation challenge (credential and nonce) may be answered; each answers once.'),
});

export const configSchema = z.strictObject({
  publicBaseUrl: z
    .url()
    .refine((u) => !u.endsWith('/'), 'no trailing slash')
    .describe('Base URL of the plain-HTTP listener as relying parties reach it: certificates carry <base>/crl/<ca>.crl, <base>/ocsp and <base>/ca/<ca>.crt; serve warns when it does not lead here'),
  tlsNames: z.array(z.string().min(1)).default(['localhost', '127.0.0.1', '::1']).describe('DNS names and addresses the HTTPS listener\'s own certificate covers'),
  profilesDir: z.string().default('profiles').describe('Directory of profile files, relative to this file'),
  cas: z.array(caSchema).min(2).describe('The hierarchy: a root, then subordinates after their parent'),
  security: securitySchema.default(securitySchema.parse({})),
  revocation: revocationSchema.default(revocationSchema.parse({})),
  est: estSchema.default(estSchema.parse({})),
  operations: operationsSchema.default(operationsSchema.parse({})),
  factory: factorySchema.default(factorySchema.parse({})),
  hsm: hsmSchema.default(hsmSchema.parse({})),
  tsa: tsaSchema.default(tsaSchema.parse({})),
  cmp: cmpSchema.default(cmpSchema.parse({})),
  attestation: attestationSchema.default(attestationSchema.parse({})),
  scep: scepSchema.default(scepSchema.parse({})),
});

export type CaDefinition = z.infer<typeof caSchema>;
export interface CaConfig {
  file: string;
  publicBaseUrl: string;
  tlsNames: string[];
  cas: CaDefinition[];
  profiles: Map<string, Profile>;
  security: SecurityConfig;
  revocation: RevocationConfig;
  est: EstConfig & { bootstrapCaCertificates: Uint8Array[] };
  operations: z.infer<typeof operationsSchema>;
  factory: z.infer<typeof factorySchema>;
  hsm: z.infer<typeof hsmSchema>;
  tsa: z.infer<typeof tsaSchema>;
  cmp: z.infer<typeof cmpSchema>;
  attestation: z.infer<typeof attestationSchema> & { tpmRootCertificates: Uint8Array[] };
  scep: z.infer<typeof scepSchema>;
  /** Files the configuration was read from, for change detection. */
  files: string[];
}

function checkHierarchy(file: string, cas: CaDefinition[]): void {
  const names = new Set<string>();
  for (const ca of cas) {
    if (names.has(ca.name)) throw configError(`${file}: cas: duplicate CA name "${ca.name}"`);
    names.add(ca.name);
  }
  const roots = cas.filter((ca) => !ca.parent);
  if (roots.length !== 1) throw configError(`${file}: cas: exactly one root (a CA without parent) is required, found ${roots.length}`);
  for (const ca of cas) {
    if (ca.parent && !names.has(ca.parent)) throw configError(`${file}: cas.${ca.name}.parent: unknown CA "${ca.parent}"`);
    if (ca.parent && cas.indexOf(cas.find((c) => c.name === ca.parent)!) > cas.indexOf(ca)) {
      throw configError(`${file}: cas.${ca.name}: list a parent before its children`);
    }
  }
}

export function loadCaConfig(file: string): CaConfig {
  let raw: unknown;
  try {
    raw = YAML.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw configError(`${file}: cannot read the CA configuration: ${(e as Error).message}`);
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw configError(describeZodError(file, parsed.error));
  const config = parsed.data;
  checkHierarchy(file, config.cas);
  const profilesDir = path.resolve(path.dirname(file), config.profilesDir);
  const profiles = loadProfiles(profilesDir, new Set(config.cas.map((c) => c.name)));
  const files = [file, ...fs.readdirSync(profilesDir).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => path.join(profilesDir, f))];
  for (const [label, est] of Object.entries(config.est.labels)) {
    if (!profiles.has(est.profile)) throw configError(`${file}: est.labels.${label}.profile: unknown profile "${est.profile}"`);
    // A device-facing route never reaches a profile that does not accept device enrollment.
    if (!profiles.get(est.profile)!.requesters.enrollment) throw configError(`${file}: est.labels.${label}.profile: profile "${est.profile}" does not accept device enrollment (requesters.enrollment)`);
  }
  for (const [label, cmp] of Object.entries(config.cmp.labels)) {
    if (!profiles.has(cmp.profile)) throw configError(`${file}: cmp.labels.${label}.profile: unknown profile "${cmp.profile}"`);
    if (!profiles.get(cmp.profile)!.requesters.enrollment) throw configError(`${file}: cmp.labels.${label}.profile: profile "${cmp.profile}" does not accept device enrollment (requesters.enrollment)`);
  }
  const certificatesFrom = (key: string, files: string[]) =>
    files.flatMap((p) => {
      const pemFile = path.resolve(path.dirname(file), p);
      try {
        return fromPemBlocks(fs.readFileSync(pemFile, 'utf8'), ['CERTIFICATE']);
      } catch (e) {
        throw configError(`${file}: ${key}: cannot read ${pemFile}: ${(e as Error).message}`);
      }
    });
  const bootstrapCaCertificates = certificatesFrom('est.bootstrapCas', config.est.bootstrapCas);
  const tpmRootCertificates = certificatesFrom('attestation.tpmRoots', config.attestation.tpmRoots);
  return {
    file,
    publicBaseUrl: config.publicBaseUrl,
    tlsNames: config.tlsNames,
    cas: config.cas,
    profiles,
    security: config.security,
    revocation: config.revocation,
    est: { ...config.est, bootstrapCaCertificates },
    operations: config.operations,
    factory: config.factory,
    hsm: config.hsm,
    tsa: config.tsa,
    cmp: config.cmp,
    attestation: { ...config.attestation, tpmRootCertificates },
    scep: config.scep,
    files,
  };
}
