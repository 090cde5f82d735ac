import { createHash } from 'node:crypto';
import { workerData } from 'node:worker_threads';
import pkcs11js from 'pkcs11js';
import { serveWorker } from '../../workers/serve.js';
import { ecdsaRawToDer } from '../ecdsa-signature.js';
import { recoveryFor } from './errors.js';
import { DIGEST_INFO_PREFIX, type SignRequest } from './sign-request.js';

/**
 * Signs in a worker thread with synchronous PKCS#11 calls, one session per worker (the module was
 * initialised by the main thread with CKF_OS_LOCKING_OK, so sessions in several threads are safe).
 * One message carries a whole batch: no per-signature hop through the event loop. The login state
 * belongs to the process (PKCS#11 §5.6), but the worker logs in too in case it is the first.
 * It never finalises the module: that belongs to the main thread.
 */
const { modulePath, tokenLabel, pin } = workerData as { modulePath: string; tokenLabel: string; pin: string };
const CKR_CRYPTOKI_ALREADY_INITIALIZED = 0x191;
const CKR_USER_ALREADY_LOGGED_IN = 0x100;

let module: pkcs11js.PKCS11 | undefined;
let session: Buffer | undefined;
const keys = new Map<string, Buffer>();
const output = Buffer.alloc(1024);

const tolerate = (code: number, call: () => void) => {
  try {
    call();
  } catch (e) {
    if ((e as { code?: number }).code !== code) throw e;
  }
};

function open(): { p: pkcs11js.PKCS11; session: Buffer } {
  if (module && session) return { p: module, session };
  const p = module ?? new pkcs11js.PKCS11();
  if (!module) p.load(modulePath);
  module = p;
  tolerate(CKR_CRYPTOKI_ALREADY_INITIALIZED, () => p.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK }));
  const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trim() === tokenLabel);
  if (!slot) throw Object.assign(new Error(`no token labelled "${tokenLabel}"`), { code: 0xe0 });
  session = p.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
  const s = session;
  tolerate(CKR_USER_ALREADY_LOGGED_IN, () => p.C_Login(s, pkcs11js.CKU_USER, pin));
  keys.clear();
  return { p, session };
}

function privateKey(p: pkcs11js.PKCS11, s: Buffer, request: SignRequest): Buffer {
  const name = `${request.keyLabel}\0${request.keyId ?? ''}`;
  let key = keys.get(name);
  if (!key) {
    const template: pkcs11js.Template = [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
      { type: pkcs11js.CKA_LABEL, value: request.keyLabel },
      ...(request.keyId ? [{ type: pkcs11js.CKA_ID, value: Buffer.from(request.keyId, 'hex') }] : []),
    ];
    p.C_FindObjectsInit(s, template);
    const found = p.C_FindObjects(s, 2);
    p.C_FindObjectsFinal(s);
    if (found.length !== 1) throw new Error(`${found.length} private keys labelled ${request.keyLabel} on the token`);
    key = found[0]!;
    keys.set(name, key);
  }
  return key;
}

function signOne(request: SignRequest): Uint8Array {
  const { p, session: s } = open();
  const digest = createHash(request.hash).update(request.data).digest();
  const ecdsa = request.family === 'ecdsa';
  p.C_SignInit(s, { mechanism: ecdsa ? pkcs11js.CKM_ECDSA : pkcs11js.CKM_RSA_PKCS }, privateKey(p, s, request));
  const signature = p.C_Sign(s, ecdsa ? digest : Buffer.concat([DIGEST_INFO_PREFIX[request.hash], digest]), output);
  return ecdsa ? ecdsaRawToDer(new Uint8Array(signature)) : new Uint8Array(signature);
}

serveWorker((requests: SignRequest[]) => {
  try {
    return requests.map(signOne);
  } catch (e) {
    if (!recoveryFor(e)) throw e;
    // The main thread may have re-initialised the module, or the session was lost: once more on a new one.
    session = undefined;
    return requests.map(signOne);
  }
});
