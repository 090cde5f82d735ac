import fs from 'node:fs';
import path from 'node:path';
import { readEnvironment, type Environment } from '../config/env.js';
import { HallmarkError } from '../base/errors.js';
import { SQLITE_FILE } from '../store/private-home.js';
import { readPin } from '../config/secrets.js';
import { loadCaConfig, type CaConfig } from '../config/ca-config.js';
import { createPkcs11KeyStore } from '../keys/pkcs11/store.js';
import type { KeyStore } from '../keys/key-store.js';
import { openStore } from '../store/db.js';
import { closeStore, type Store } from '../store/handle.js';
import { createCaStore, type CaStore } from '../store/cas.js';
import { createCertificateQueries, createIssuanceStore, type CertificateQueries, type IssuanceStore } from '../store/certificates.js';
import { createAuditLog, type AuditLog } from '../audit/log.js';
import { loadIssuers, type IssuerRegistry } from '../ca/issuer.js';
import { systemClock, type Clock } from '../base/clock.js';
import type { IssueDeps } from '../ca/issue.js';
import { crlPolicies } from '../ca/crl-scope.js';
import type { CrlDeps } from '../ca/crl.js';
import { createCrlStore } from '../store/crls.js';

/** Built once, handed to commands and routers; each takes the slice it needs. */
export interface AppContext {
  env: Environment;
  config: CaConfig;
  clock: Clock;
  store: Store;
  cas: CaStore;
  certificates: CertificateQueries;
  issuance: IssuanceStore;
  audit: AuditLog;
  /** Present when the context was opened with keys (commands that sign). */
  keys?: KeyStore;
  close(): Promise<void>;
}

export interface ContextOptions {
  env?: Environment;
  /** Log in to the token (needs the PIN). Read-only commands do without. */
  withKeys: boolean;
  clock?: Clock;
  /** PostgreSQL schema (tests). */
  schema?: string;
  /**
   * Make the SQLite database when the home has none (`hallmark init`). Every other command refuses
   * instead: a home that is not there is a mistyped or unset HALLMARK_HOME, and creating an empty CA
   * database in it is the road to a second CA.
   */
  create?: boolean;
}

/** The refusal when the home holds no database: where was looked, and how to point at the right one. */
function requireExistingHome(env: Environment): void {
  if (env.databaseUrl || fs.existsSync(path.join(env.home, SQLITE_FILE))) return;
  const where = env.homeFromEnv ? `HALLMARK_HOME=${env.home}` : `${env.home} (HALLMARK_HOME is not set, so ./data)`;
  throw new HallmarkError(
    'no_home',
    `no Hallmark CA in ${where}: nothing was created. Point HALLMARK_HOME at your CA's home (the dev setup writes \`source <home>/env.sh\`), set DATABASE_URL for PostgreSQL, or run \`hallmark init\` to make a CA here`,
    503,
  );
}

export async function openContext(options: ContextOptions): Promise<AppContext> {
  const env = options.env ?? readEnvironment();
  if (!options.create) requireExistingHome(env);
  const config = loadCaConfig(env.configFile);
  const clock = options.clock ?? systemClock;
  let keys: KeyStore | undefined;
  if (options.withKeys) {
    const pin = readPin(env.pin);
    // SoftHSM reads its config location when the module initialises.
    if (env.softhsmConf) process.env.SOFTHSM2_CONF = env.softhsmConf;
    keys = createPkcs11KeyStore({ modulePath: env.pkcs11Module, tokenLabel: env.tokenLabel, pin, signingThreads: config.hsm.signingThreads });
  }
  let store: Store;
  try {
    store = await openStore({ url: env.databaseUrl, home: env.home, schema: options.schema });
  } catch (e) {
    await keys?.close();
    throw e;
  }
  const audit = createAuditLog(store, clock);
  return {
    env,
    config,
    clock,
    store,
    cas: createCaStore(store),
    certificates: createCertificateQueries(store),
    issuance: createIssuanceStore(store),
    audit,
    keys,
    async close() {
      // What this process appended is chained before it goes (a CLI command, a stopping server); if the
      // database is gone, the entries wait in audit_pending for the next sequencer.
      await audit.sequence().catch(() => undefined);
      await closeStore(store);
      await keys?.close();
    },
  };
}

/**
 * What issuing needs; loads every CA's signer from the token once. Records each family's CRL shard
 * count first: the shards published are those of the largest count ever issued under.
 */
export async function issuingDeps(ctx: AppContext): Promise<IssueDeps> {
  if (!ctx.keys) throw new Error('this context was opened without keys');
  const crls = createCrlStore(ctx.store);
  for (const ca of ctx.config.cas) if (ca.crl.shards > 0) await crls.recordShardCount(ca.name, ca.crl.shards);
  return {
    issuers: await loadIssuers(ctx.cas, ctx.keys, ctx.clock),
    profiles: ctx.config.profiles,
    store: ctx.issuance,
    audit: ctx.audit,
    clock: ctx.clock,
    publicBaseUrl: ctx.config.publicBaseUrl,
    crlPolicy: crlPolicies(ctx.config.cas),
    serviceNames: ctx.config.tlsNames,
  };
}

/** What signing CRLs needs (ca/crl.ts), for `serve`, `hallmark crl generate` and the benchmarks. */
export const crlDeps = (ctx: AppContext, issuers: IssuerRegistry): CrlDeps => ({
  issuers,
  crls: createCrlStore(ctx.store),
  audit: ctx.audit,
  clock: ctx.clock,
  config: ctx.config.revocation.crl,
  policy: crlPolicies(ctx.config.cas),
  publicBaseUrl: ctx.config.publicBaseUrl,
});
