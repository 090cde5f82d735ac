import { HallmarkError } from '../../base/errors.js';

/** PKCS#11 return values after which the session (or the whole module) must be opened again. */
const RECOVERABLE = new Map<number, 'session' | 'module'>([
  [0x05, 'module'], // CKR_GENERAL_ERROR
  [0x30, 'module'], // CKR_DEVICE_ERROR
  [0x32, 'module'], // CKR_DEVICE_REMOVED
  [0xe0, 'module'], // CKR_TOKEN_NOT_PRESENT
  [0x190, 'module'], // CKR_CRYPTOKI_NOT_INITIALIZED
  [0x60, 'session'], // CKR_KEY_HANDLE_INVALID
  [0x82, 'session'], // CKR_OBJECT_HANDLE_INVALID
  [0xb0, 'session'], // CKR_SESSION_CLOSED
  [0xb3, 'session'], // CKR_SESSION_HANDLE_INVALID
  [0x101, 'session'], // CKR_USER_NOT_LOGGED_IN
]);

export const pkcs11Code = (e: unknown): number | undefined =>
  typeof (e as { code?: unknown })?.code === 'number' ? (e as { code: number }).code : undefined;

export function recoveryFor(e: unknown): 'session' | 'module' | undefined {
  const code = pkcs11Code(e);
  return code === undefined ? undefined : RECOVERABLE.get(code);
}

export function hsmUnavailable(what: string, e: unknown): HallmarkError {
  const reason = e instanceof Error ? e.message : String(e);
  return new HallmarkError('hsm_unavailable', `HSM ${what} failed: ${reason}`, 503);
}
