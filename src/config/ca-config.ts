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
  name: caName,
  parent: caName.optional(),
  subject: distinguishedName,
  key: z.enum(CA_KEY_TYPES),
  validityDays: z.number().int().positive().max(36500),
  pathLength: z.number().int().min(0).max(8).optional(),
});

const securitySchema = z.strictObject({
  sessions: z.strictObject({ idleMinutes: z.number().positive().max(1440), maxHours: z.number().positive().max(168) }).default({ idleMinutes: 15, maxHours: 8 }),
  /** Requests per minute per client address, per route group; 0 turns a limit off. */
  rateLimits: z
    .strictObject({ auth: z.number().int().min(0), enrollment: z.number().int().min(0), provisioning: z.number().int().min(0) })
    .default({ auth: 30, enrollment: 600, provisioning: 6000 }),
  alerts: z
    .strictObject({
      webhookUrl: z.url().nullable().default(null),
      authFailures: z
        .strictObject({
          /** Failures of one credential from one address (or, naming no known credential, of one address) that block it. */
          threshold: z.number().int().positive(),
          /** Failures of one credential from any addresses that block the credential everywhere. */
          credentialThreshold: z.number().int().positive().default(30),
          windowSeconds: z.number().int().positive(),
          blockSeconds: z.number().int().min(0),
        })
        .default({ threshold: 10, credentialThreshold: 30, windowSeconds: 300, blockSeconds: 900 }),
      revocationBurst: z.strictObject({ threshold: z.number().int().positive(), windowSeconds: z.number().int().positive() }).default({ threshold: 100, windowSeconds: 300 }),
      expiryWarningDays: z.number().int().positive().default(30),
      /** Seconds between periodic checks (expiry, CRL freshness) and the hourly/daily summaries. */
      checkIntervalSeconds: z.number().int().positive().default(300),
      summaries: z.boolean().default(true),
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
      /** nextUpdate − thisUpdate. */
      validityHours: z.number().positive().max(24 * 31),
      /** A new CRL is signed once this much of the validity has passed, well before nextUpdate. */
      refreshAfterHours: z.number().positive(),
      /** Revocations within this window share one new CRL. */
      coalesceMs: z.number().int().min(0).max(60_000),
    })
    .refine((c) => c.refreshAfterHours < c.validityHours, 'refreshAfterHours must be less than validityHours')
    .default({ validityHours: 24, refreshAfterHours: 12, coalesceMs: 1000 }),
  ocsp: z
    .strictObject({
      /** nextUpdate − thisUpdate of each response (RFC 5019 §2.2.4). */
      validityMinutes: z.number().positive().max(7 * 24 * 60),
      /** Cached responses are re-signed this long before their nextUpdate. */
      refreshBeforeMinutes: z.number().positive(),
      /** How often every instance looks for revocations made by the others. */
      pollSeconds: z.number().positive().max(60),
    })
    .refine((o) => o.refreshBeforeMinutes < o.validityMinutes, 'refreshBeforeMinutes must be less than validityMinutes')
    .default({ validityMinutes: 60, refreshBeforeMinutes: 10, pollSeconds: 2 }),
});

export type RevocationConfig = z.infer<typeof revocationSchema>;

const estLabelSchema = z.strictObject({
  profile: z.string(),
  /** Who may enroll: a one-time secret (HTTP Basic), and/or a certificate from a bootstrap CA. */
  enroll: z.array(z.enum(['token', 'bootstrap'])).min(1),
  /** Require the TLS channel binding in every CSR's challengePassword (RFC 7030 §3.5); checked whenever present. */
  channelBinding: z.boolean().default(false),
  /** Hold every enrollment for an operator's approval (RFC 7030 §4.2.3: 202 with Retry-After until decided). */
  manualApproval: z.boolean().default(false),
  /** Seconds the client is told to wait before repeating a held request. */
  retryAfterSeconds: z.number().int().positive().max(86_400).default(60),
});

const estSchema = z.strictObject({
  /** `default` serves /.well-known/est/<op>; others /.well-known/est/<label>/<op>. */
  labels: z.record(z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/), estLabelSchema).default({ default: { profile: 'device', enroll: ['token', 'bootstrap'], channelBinding: false, manualApproval: false, retryAfterSeconds: 60 } }),
  /** PEM files of manufacturer CAs whose device certificates (IDevID) may enroll; relative to this file. */
  bootstrapCas: z.array(z.string()).default([]),
  renewal: z
    .strictObject({
      /** Renewal is refused before this fraction of the lifetime has passed (0: any time). */
      fromFraction: z.number().min(0).max(1),
      /** Superseded certificates are revoked (reason superseded) this long after their renewal; null keeps them. */
      revokeSupersededAfterHours: z.number().min(0).nullable(),
    })
    .default({ fromFraction: 0.66, revokeSupersededAfterHours: 24 }),
  tokenExpiryHours: z.number().positive().default(168),
});

export type EstConfig = z.infer<typeof estSchema>;

const factorySchema = z.strictObject({
  /** A device reservation older than this was left by a request that died; the next request takes it over. */
  staleReservationSeconds: z.number().positive().default(120),
  /** An instance that missed its heartbeat (status poll) this long is dead: its reservations are taken over. */
  reservationLeaseSeconds: z.number().positive().default(15),
  /** Intents still pending after this long belong to requests that died: marked failed and audited. */
  abandonedIntentSeconds: z.number().positive().default(600),
});

const operationsSchema = z.strictObject({
  /** /metrics on the plain-HTTP listener, answered only to these client addresses (loopback by default). */
  metrics: z
    .strictObject({ enabled: z.boolean(), allowFrom: z.array(z.string()) })
    .default({ enabled: true, allowFrom: ['127.0.0.1', '::1', '::ffff:127.0.0.1'] }),
});

const hsmSchema = z.strictObject({
  /**
   * Threads signing large batches, each with its own session. SoftHSM signs on the calling thread's
   * CPU, and two threads sharing the cores with the service cost more CPU per signature than one
   * (docs/issuance-performance.md); an HSM with its own crypto processors signs in parallel: give it more.
   */
  signingThreads: z.number().int().min(1).max(64).default(1),
});

const configSchema = z.strictObject({
  publicBaseUrl: z.url().refine((u) => !u.endsWith('/'), 'no trailing slash'),
  tlsNames: z.array(z.string().min(1)).default(['localhost', '127.0.0.1', '::1']),
  profilesDir: z.string().default('profiles'),
  cas: z.array(caSchema).min(2),
  security: securitySchema.default(securitySchema.parse({})),
  revocation: revocationSchema.default(revocationSchema.parse({})),
  est: estSchema.default(estSchema.parse({})),
  operations: operationsSchema.default(operationsSchema.parse({})),
  factory: factorySchema.default(factorySchema.parse({})),
  hsm: hsmSchema.default(hsmSchema.parse({})),
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
  const bootstrapCaCertificates = config.est.bootstrapCas.flatMap((p) => {
    const pemFile = path.resolve(path.dirname(file), p);
    try {
      return fromPemBlocks(fs.readFileSync(pemFile, 'utf8'), ['CERTIFICATE']);
    } catch (e) {
      throw configError(`${file}: est.bootstrapCas: cannot read ${pemFile}: ${(e as Error).message}`);
    }
  });
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
    files,
  };
}
