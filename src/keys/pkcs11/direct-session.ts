import pkcs11js from 'pkcs11js';
import type { WorkingCopyOps } from './working-copies.js';

/**
 * A session on the token opened with pkcs11js directly, for threads other than the main one (the
 * signing workers, the raw-rate benchmark). The main thread initialised the module with
 * CKF_OS_LOCKING_OK and logged the application in; here both calls tolerate having been made
 * already. Nothing here finalises the module: that belongs to the main thread.
 */
export interface DirectTarget {
  modulePath: string;
  tokenLabel: string;
  pin: string;
}

const CKR_USER_ALREADY_LOGGED_IN = 0x100;
const CKR_CRYPTOKI_ALREADY_INITIALIZED = 0x191;

function tolerate(code: number, call: () => void): void {
  try {
    call();
  } catch (e) {
    if ((e as { code?: number }).code !== code) throw e;
  }
}

export function openDirectSession(target: DirectTarget, loaded?: pkcs11js.PKCS11): { p: pkcs11js.PKCS11; session: Buffer } {
  const p = loaded ?? new pkcs11js.PKCS11();
  if (!loaded) p.load(target.modulePath);
  tolerate(CKR_CRYPTOKI_ALREADY_INITIALIZED, () => p.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK }));
  const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trim() === target.tokenLabel);
  if (!slot) throw Object.assign(new Error(`no token labelled "${target.tokenLabel}"`), { code: 0xe0 });
  const session = p.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
  tolerate(CKR_USER_ALREADY_LOGGED_IN, () => p.C_Login(session, pkcs11js.CKU_USER, target.pin));
  return { p, session };
}

/** The stored private key with this label (and CKA_ID, hex, when given), undefined when there is none. */
export function findStoredPrivateKey(p: pkcs11js.PKCS11, session: Buffer, label: string, idHex?: string): Buffer | undefined {
  p.C_FindObjectsInit(session, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
    // Stored objects only: working copies (working-copies.ts) carry the same label and id.
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_LABEL, value: label },
    ...(idHex ? [{ type: pkcs11js.CKA_ID, value: Buffer.from(idHex, 'hex') }] : []),
  ]);
  const found = p.C_FindObjects(session, 2);
  p.C_FindObjectsFinal(session);
  if (found.length > 1) throw new Error(`${found.length} private keys labelled ${label} on the token`);
  return found[0];
}

/** The one private key with this label (and CKA_ID, hex, when given). */
export function findPrivateKey(p: pkcs11js.PKCS11, session: Buffer, label: string, idHex?: string): Buffer {
  const key = findStoredPrivateKey(p, session, label, idHex);
  if (!key) throw new Error(`no private key labelled ${label} on the token`);
  return key;
}

/** Working copies through pkcs11js on a session of this thread (working-copies.ts). */
export function directCopyOps(p: pkcs11js.PKCS11, session: Buffer, label: string, idHex?: string): WorkingCopyOps<Buffer> {
  return {
    findStored: () => findStoredPrivateKey(p, session, label, idHex),
    same: (a, b) => a.equals(b),
    copy(stored) {
      const copy = p.C_CopyObject(session, stored, [{ type: pkcs11js.CKA_TOKEN, value: false }]);
      const [token] = p.C_GetAttributeValue(session, copy, [{ type: pkcs11js.CKA_TOKEN }]);
      if (token?.value instanceof Buffer && token.value[0] === 0) return copy;
      p.C_DestroyObject(session, copy); // a module that stored the "copy": not what was asked for
      return undefined;
    },
    destroy: (copy) => p.C_DestroyObject(session, copy),
  };
}
