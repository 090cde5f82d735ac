import * as graphene from 'graphene-pk11';
import pkcs11js from 'pkcs11js';
import { HallmarkError } from '../../base/errors.js';
import { pkcs11Code } from './errors.js';

export interface TokenOptions {
  modulePath: string;
  tokenLabel: string;
  pin: string;
}

/**
 * One loaded PKCS#11 module and the slot holding our token. `reopen()` finalizes and initializes the
 * module again, which is how a token that went away (or a module in an error state) comes back.
 */
export interface TokenConnection {
  slot(): graphene.Slot;
  /** Opens a read-write session; the first one of each generation logs in. */
  openSession(): graphene.Session;
  reopen(): void;
  /** The next session logs in again (after CKR_USER_NOT_LOGGED_IN or closed sessions). */
  forgetLogin(): void;
  generation(): number;
  close(): void;
}

/**
 * A PKCS#11 library is initialised once per process, however many connections use it, and
 * finalised when the last one closes (C_Finalize would pull the sessions from under the others).
 */
const loadedModules = new Map<string, { module: graphene.Module; users: number }>();

function acquireModule(path: string): graphene.Module {
  let entry = loadedModules.get(path);
  if (!entry) {
    let mod: graphene.Module;
    try {
      mod = graphene.Module.load(path, 'hallmark');
    } catch (e) {
      throw new HallmarkError('hsm_module', `cannot load PKCS#11 module ${path}: ${(e as Error).message}; install it (softhsm2) or set HALLMARK_PKCS11_MODULE`, 500);
    }
    try {
      initialize(mod);
    } catch (e) {
      throw new HallmarkError(
        'hsm_module',
        `PKCS#11 module ${path} did not initialise (C_Initialize: ${(e as Error).message}); is what it talks to running? (openCryptoki: pkcsslotd; tpm2-pkcs11: the TPM that TPM2_PKCS11_TCTI names)`,
        503,
      );
    }
    entry = { module: mod, users: 0 };
    loadedModules.set(path, entry);
  }
  entry.users++;
  return entry.module;
}

function releaseModule(path: string): void {
  const entry = loadedModules.get(path);
  if (!entry || --entry.users > 0) return;
  loadedModules.delete(path);
  try {
    entry.module.finalize();
  } catch {
    // Closing is best effort.
  }
}

function initialize(mod: graphene.Module): void {
  // Without CKF_OS_LOCKING_OK, concurrent operations on separate sessions crashed Node with SoftHSM.
  mod.initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
}

function findSlot(mod: graphene.Module, options: TokenOptions): graphene.Slot {
  const slots = mod.getSlots(true);
  const labels: string[] = [];
  for (let i = 0; i < slots.length; i++) {
    const slot = slots.items(i);
    const label = slot.getToken().label.trim();
    if (label === options.tokenLabel) return slot;
    labels.push(label);
  }
  throw new HallmarkError(
    'hsm_token_missing',
    `no token labelled "${options.tokenLabel}" in ${options.modulePath} (found: ${labels.join(', ') || 'none'}); ` +
      'create the dev token with scripts/dev-token.sh or set HALLMARK_PKCS11_TOKEN',
    503,
  );
}

export function connectToken(options: TokenOptions): TokenConnection {
  const mod = acquireModule(options.modulePath);
  let slot: graphene.Slot;
  try {
    slot = findSlot(mod, options);
  } catch (e) {
    releaseModule(options.modulePath);
    throw e;
  }
  let generation = 0;
  let loggedInGeneration = -1;

  return {
    slot: () => slot,
    generation: () => generation,
    openSession() {
      const session = slot.open(graphene.SessionFlag.SERIAL_SESSION | graphene.SessionFlag.RW_SESSION);
      if (loggedInGeneration !== generation) {
        try {
          session.login(options.pin, graphene.UserType.USER);
        } catch (e) {
          const code = pkcs11Code(e);
          if (code !== 0x100 /* CKR_USER_ALREADY_LOGGED_IN */) {
            session.close();
            if (code === 0xa0 /* CKR_PIN_INCORRECT */ || code === 0xa4 /* CKR_PIN_LOCKED */) {
              throw new HallmarkError('hsm_login', `token "${options.tokenLabel}" refused the PIN (${(e as Error).message}); check HALLMARK_PKCS11_PIN / HALLMARK_PKCS11_PIN_FILE`, 503);
            }
            throw e;
          }
        }
        loggedInGeneration = generation;
      }
      return session;
    },
    forgetLogin() {
      loggedInGeneration = -1;
    },
    reopen() {
      generation++;
      try {
        mod.finalize();
      } catch {
        // Already finalized or broken: initializing again is what matters.
      }
      initialize(mod);
      slot = findSlot(mod, options);
    },
    close() {
      generation++;
      releaseModule(options.modulePath);
    },
  };
}
