import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ROOT } from './paths.js';
import { mustRun } from './run.js';

export interface TestHome {
  home: string;
  /** The environment a Hallmark process needs for this home (token, PIN file, SoftHSM config). */
  env: NodeJS.ProcessEnv;
  pin: string;
  cleanup(): void;
}

/**
 * A fresh data directory with SoftHSM tokens, made by the same script developers use. SoftHSM reads
 * its configuration once per process, so a test file uses one home and, for several CAs, several
 * token labels in it.
 */
export async function makeTestHome(tokenLabels: string[] = ['hallmark']): Promise<TestHome> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'hallmark-test-'));
  const env: NodeJS.ProcessEnv = { ...process.env, HALLMARK_HOME: home };
  delete env.DATABASE_URL;
  delete env.HALLMARK_PKCS11_PIN;
  delete env.HALLMARK_PKCS11_TOKEN;
  delete env.HALLMARK_CONFIG;
  for (const label of tokenLabels) {
    await mustRun('bash', [path.join(ROOT, 'scripts', 'dev-token.sh')], { env: { ...env, HALLMARK_PKCS11_TOKEN: label } });
  }
  const pinFile = path.join(home, 'hsm', 'user.pin');
  return {
    home,
    pin: fs.readFileSync(pinFile, 'utf8').trim(),
    env: { ...env, SOFTHSM2_CONF: path.join(home, 'softhsm2.conf'), HALLMARK_PKCS11_PIN_FILE: pinFile },
    cleanup: () => fs.rmSync(home, { recursive: true, force: true }),
  };
}

export const randomName = (prefix: string) => `${prefix}${randomBytes(6).toString('hex')}`;
