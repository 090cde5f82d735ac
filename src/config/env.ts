import path from 'node:path';
import fs from 'node:fs';

/**
 * Everything Hallmark reads from the environment, in one place (docs/operators.md, "Configuration").
 * Secrets are not read here: see `secrets.ts`, so that this object can be logged safely.
 */
export interface Environment {
  home: string;
  /** Whether HALLMARK_HOME named the home (otherwise ./data), to say so when it holds no CA. */
  homeFromEnv: boolean;
  configFile: string;
  pkcs11Module: string;
  tokenLabel: string;
  pin: { env?: string; file?: string };
  databaseUrl?: string;
  softhsmConf?: string;
}

const DEFAULT_MODULES = [
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/local/lib/softhsm/libsofthsm2.so',
];

/** The repository root (where ca-config/ lives), found from this file's place in src/ or dist/src/. */
export function projectRoot(): string {
  let dir = path.dirname(new URL(import.meta.url).pathname);
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the Hallmark package root');
    dir = parent;
  }
  return dir;
}

export function readEnvironment(env: NodeJS.ProcessEnv = process.env): Environment {
  const home = path.resolve(env.HALLMARK_HOME || './data');
  const devSofthsmConf = path.join(home, 'softhsm2.conf');
  return {
    home,
    homeFromEnv: Boolean(env.HALLMARK_HOME),
    configFile: path.resolve(env.HALLMARK_CONFIG || path.join(projectRoot(), 'ca-config', 'hallmark.yaml')),
    pkcs11Module: env.HALLMARK_PKCS11_MODULE || DEFAULT_MODULES.find((m) => fs.existsSync(m)) || DEFAULT_MODULES[0]!,
    tokenLabel: env.HALLMARK_PKCS11_TOKEN || 'hallmark',
    pin: { env: env.HALLMARK_PKCS11_PIN, file: env.HALLMARK_PKCS11_PIN_FILE },
    databaseUrl: env.DATABASE_URL || undefined,
    // SoftHSM reads SOFTHSM2_CONF when the module initialises; default to the dev token's config.
    softhsmConf: env.SOFTHSM2_CONF || (fs.existsSync(devSofthsmConf) ? devSofthsmConf : undefined),
  };
}
