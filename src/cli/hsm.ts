import { readEnvironment } from '../config/env.js';
import { loadCaConfig } from '../config/ca-config.js';
import { readPin } from '../config/secrets.js';
import { checkHsm } from '../keys/pkcs11/check.js';
import type { CaKeyType } from '../x509/key-types.js';
import { printJson, printTable } from './output.js';
import { HallmarkError } from '../base/errors.js';

/**
 * `hallmark hsm check`: probes a PKCS#11 module before a ceremony (keys/pkcs11/check.ts) and says,
 * for every CA key type, whether this token can hold it. Exits non-zero when a key type the CA
 * configuration uses, or sealing, will not work. Needs no database and no CA.
 */
export async function hsmCheckCommand(flags: { json: boolean; module?: string; token?: string }): Promise<void> {
  const env = readEnvironment();
  if (env.softhsmConf) process.env.SOFTHSM2_CONF = env.softhsmConf;
  let configured: CaKeyType[] = [];
  try {
    configured = [...new Set(loadCaConfig(env.configFile).cas.map((ca) => ca.key))];
  } catch {
    // Without a readable configuration every key type is reported and none is required.
  }
  const report = await checkHsm({ modulePath: flags.module ?? env.pkcs11Module, tokenLabel: flags.token ?? env.tokenLabel, pin: readPin(env.pin) }, configured);
  if (flags.json) printJson(report);
  else {
    process.stdout.write(`module ${report.module}, token "${report.token}"\n\n`);
    printTable(report.steps as unknown as Record<string, unknown>[], ['check', 'result', 'detail']);
    if (report.keyTypes.length) {
      process.stdout.write('\n');
      printTable(report.keyTypes.map((k) => ({ ...k, configured: k.configured ? 'yes' : '' })), ['keyType', 'configured', 'verdict', 'detail']);
    }
    if (report.ready) process.stdout.write(`\nready: this token can hold ${configured.join(', ') || 'the key types marked ready'} and seal secrets\n`);
  }
  if (!report.ready) {
    throw new HallmarkError(
      'hsm_not_ready',
      `not ready: ${configured.length ? `a key type the CA configuration uses (${configured.join(', ')}), or sealing, does not work on this token` : 'see the failures above'}; change the key types in the CA configuration or use another token`,
      400,
    );
  }
}
