import { randomBytes } from 'node:crypto';
import * as graphene from 'graphene-pk11';
import { CA_KEY_TYPES, type CaKeyType } from '../../x509/key-types.js';
import { SECRETS_KEY, type KeyStore, type TokenCapabilities } from '../key-store.js';
import { connectToken, type TokenConnection, type TokenOptions } from './token.js';
import { createPkcs11KeyStore } from './store.js';
import { probeKeyType } from '../probe.js';
import { findSecretKey } from './sealer.js';
import type { KeyUri } from '../key-uri.js';

export type CheckResult = 'ok' | 'warn' | 'fail';

export interface HsmCheckStep {
  check: string;
  result: CheckResult;
  detail: string;
}

export interface KeyTypeVerdict {
  keyType: CaKeyType;
  /** Whether the CA configuration uses it. */
  configured: boolean;
  verdict: 'ready' | 'unusable';
  detail: string;
}

export interface HsmCheckReport {
  module: string;
  token: string;
  steps: HsmCheckStep[];
  keyTypes: KeyTypeVerdict[];
  capabilities?: TokenCapabilities;
  /** Sessions the module granted when asked for up to SESSION_PROBE at once. */
  sessionsGranted?: number;
  /** Ready for a ceremony: every configured key type and sealing work. */
  ready: boolean;
}

const SESSION_PROBE = 32;
const MESSAGE = Buffer.from('hallmark hsm check');

/** Opens up to SESSION_PROBE sessions at once and closes them: how many the module grants. */
function probeSessions(connection: TokenConnection): { granted: number; stoppedBy?: string } {
  const open: graphene.Session[] = [];
  let stoppedBy: string | undefined;
  try {
    while (open.length < SESSION_PROBE) open.push(connection.openSession());
  } catch (e) {
    stoppedBy = (e as Error).message;
  } finally {
    for (const session of open) {
      try {
        session.close();
      } catch {
        // Closing is best effort.
      }
    }
  }
  return { granted: open.length, stoppedBy };
}

/** A session of the check's own that is surely logged in (the sessions probe may have logged the token out). */
function loggedInSession(connection: TokenConnection): graphene.Session {
  connection.forgetLogin();
  return connection.openSession();
}

function hasSecretKey(connection: TokenConnection, uri: KeyUri): boolean {
  const session = loggedInSession(connection);
  try {
    return findSecretKey(session, uri) !== undefined;
  } finally {
    session.close();
  }
}

/** Removes what the check made (throw-away keys and the sealing test key), by label; what could not be removed. */
function removeObjects(connection: TokenConnection, labels: string[]): string[] {
  const left: string[] = [];
  for (const label of labels) {
    // tpm2-pkcs11 refuses (CKR_FUNCTION_FAILED) to destroy a key it failed to sign with until the
    // module is initialised again: the second attempt does that (nothing else uses it by now).
    for (let attempt = 0; ; attempt++) {
      const session = loggedInSession(connection);
      let failure: Error | undefined;
      try {
        const found = session.find({ label });
        for (let i = 0; i < found.length; i++) session.destroy(found.items(i));
      } catch (e) {
        failure = e as Error;
      }
      try {
        session.close();
      } catch {
        // Best effort.
      }
      if (!failure) break;
      if (attempt === 1) {
        left.push(`${label} (${failure.message})`);
        break;
      }
      connection.reopen();
    }
  }
  return left;
}

/**
 * Probes a PKCS#11 module before a ceremony, leaving nothing behind: the library loads (initialised
 * with CKF_OS_LOCKING_OK), the token is there, the PIN logs in, how many sessions it grants, and for
 * every CA key type a throw-away key made sensitive and non-extractable (read back), a signature that
 * node:crypto verifies, and the key deleted; then sealing a secret and opening it again.
 */
export async function checkHsm(options: TokenOptions, configured: CaKeyType[]): Promise<HsmCheckReport> {
  const report: HsmCheckReport = { module: options.modulePath, token: options.tokenLabel, steps: [], keyTypes: [], ready: false };
  const step = (check: string, result: CheckResult, detail: string) => report.steps.push({ check, result, detail });

  let connection: TokenConnection;
  try {
    connection = connectToken(options);
  } catch (e) {
    const code = (e as { code?: string }).code;
    step(code === 'hsm_token_missing' ? 'token' : 'library', 'fail', (e as Error).message);
    return report;
  }
  step('library', 'ok', `${options.modulePath} loaded and initialised with CKF_OS_LOCKING_OK`);
  const made: string[] = [];
  /** Throw-away keys the module made but could not sign with: tpm2-pkcs11 keeps these in spite of C_DestroyObject. */
  const unsigned: string[] = [];
  let keys: KeyStore | undefined;
  try {
    const info = connection.slot().getToken();
    step('token', 'ok', `"${info.label.trim()}": ${info.manufacturerID.trim()} ${info.model.trim()}, serial ${info.serialNumber.trim()}`);
    try {
      connection.openSession().close();
      step('login', 'ok', 'the PIN logs in as the user');
    } catch (e) {
      step('login', 'fail', (e as Error).message);
      return report;
    }
    const sessions = probeSessions(connection);
    report.sessionsGranted = sessions.granted;
    const few = sessions.granted < 4;
    step('sessions', few ? 'warn' : 'ok', `${sessions.granted} of ${SESSION_PROBE} asked for at once${sessions.stoppedBy ? ` (then: ${sessions.stoppedBy})` : ''}${few ? '; keep hsm.signingThreads below that' : ''}`);

    keys = createPkcs11KeyStore({ ...options, sessions: 2 });
    const caps = await keys.capabilities();
    report.capabilities = caps;
    step('mechanisms', caps.keyTypes.length ? 'ok' : 'fail', `CA key types: ${caps.keyTypes.join(', ') || 'none'}; RSA-PSS ${caps.rsaPss ? 'yes' : 'no'}; RSA-OAEP ${caps.rsaOaep ? 'yes' : 'no'}`);

    for (const keyType of CA_KEY_TYPES) {
      const isConfigured = configured.includes(keyType);
      const gap = caps.keyTypeGaps[keyType];
      if (gap) {
        report.keyTypes.push({ keyType, configured: isConfigured, verdict: 'unusable', detail: gap });
        continue;
      }
      const probe = await probeKeyType(keys, options.tokenLabel, keyType, 'hallmark-check');
      if (probe.ok) report.keyTypes.push({ keyType, configured: isConfigured, verdict: 'ready', detail: `generated in ${probe.generatedMs} ms; sensitive ${probe.sensitive}, extractable ${probe.extractable}; signature verified` });
      else {
        made.push(probe.label);
        if (probe.failedAt === 'sign') unsigned.push(probe.label);
        report.keyTypes.push({ keyType, configured: isConfigured, verdict: 'unusable', detail: probe.detail });
      }
    }

    if (!caps.sealing) step('sealing', 'fail', `cannot seal secrets: ${caps.sealingGap}`);
    else {
      const scheme = caps.sealing === 'aes-256-gcm' ? 'AES-256-GCM on the token' : 'AES-256-CBC on the token, signed by a token key (no CKM_AES_GCM)';
      const label = `hallmark-check-seal-${randomBytes(4).toString('hex')}`;
      made.push(label, `${label}-auth`);
      const roundTrip = async (object: string) => {
        // The signing key of the CBC scheme is a throw-away one too, even with the module's own AES key.
        const sealer = await keys!.getSealer({ token: options.tokenLabel, object }, { authObject: `${label}-auth` });
        const opened = await sealer.open(await sealer.seal(MESSAGE, 'check'), 'check');
        if (!Buffer.from(opened).equals(MESSAGE)) throw new Error('opened value differs');
      };
      try {
        await roundTrip(label);
        step('sealing', 'ok', scheme);
      } catch (e) {
        // A module that cannot generate AES keys (tpm2-pkcs11) seals with the key its own tool made.
        if ((e as { code?: string }).code !== 'hsm_sealing_key_missing') step('sealing', 'fail', (e as Error).message);
        else if (!hasSecretKey(connection, { token: options.tokenLabel, object: SECRETS_KEY })) step('sealing', 'fail', (e as Error).message.replaceAll(label, SECRETS_KEY));
        else {
          try {
            await roundTrip(SECRETS_KEY);
            step('sealing', 'ok', `${scheme}, with the key "${SECRETS_KEY}" made by the module's own tool (the module does not generate AES keys)`);
          } catch (second) {
            step('sealing', 'fail', (second as Error).message);
          }
        }
      }
    }
    const configuredVerdicts = report.keyTypes.filter((k) => k.configured);
    report.ready = configuredVerdicts.length === configured.length && configuredVerdicts.every((k) => k.verdict === 'ready') && report.steps.every((s) => s.result !== 'fail');
    return report;
  } finally {
    await keys?.close();
    const left = removeObjects(connection, made);
    if (left.length || unsigned.length) {
      const notes = [...left.map((l) => `could not delete ${l}`), ...unsigned.map((l) => `${l} may remain (the module could not sign with it, and some modules then keep it)`)];
      step('cleanup', 'warn', `${notes.join('; ')}: check with the token's own tool (tpm2-pkcs11: tpm2_ptool listobjects) and remove what is left`);
    }
    connection.close();
  }
}
