import { createHash } from 'node:crypto';
import { workerData } from 'node:worker_threads';
import pkcs11js from 'pkcs11js';
import { serveWorker } from '../../workers/serve.js';
import { ecdsaRawToDer } from '../ecdsa-signature.js';
import { recoveryFor } from './errors.js';
import { DIGEST_INFO_PREFIX, type SignContext } from './sign-request.js';
import { packedBytesWorkerCodec } from '../../workers/packed-bytes.js';
import { directCopyOps, openDirectSession, type DirectTarget } from './direct-session.js';
import { createWorkingCopies } from './working-copies.js';

/**
 * Signs in a worker thread with synchronous PKCS#11 calls, one session per worker (the module was
 * initialised by the main thread with CKF_OS_LOCKING_OK, so sessions in several threads are safe).
 * One message carries a whole batch: no per-signature hop through the event loop. The login state
 * belongs to the process (PKCS#11 §5.6), but the worker logs in too in case it is the first.
 * It never finalises the module: that belongs to the main thread.
 */
const target = workerData as DirectTarget;

let module: pkcs11js.PKCS11 | undefined;
let session: Buffer | undefined;
const keys = createWorkingCopies<Buffer>();
const output = Buffer.alloc(1024);

function open(): { p: pkcs11js.PKCS11; session: Buffer } {
  if (module && session) return { p: module, session };
  const opened = openDirectSession(target, module);
  module = opened.p;
  session = opened.session;
  keys.clear();
  return opened;
}

/** After a failure: a new session next time. The old one is closed, and its working copies with it. */
function abandonSession(): void {
  try {
    if (module && session) module.C_CloseSession(session);
  } catch {
    // Already gone.
  }
  session = undefined;
}

function privateKey(p: pkcs11js.PKCS11, s: Buffer, request: SignContext): Buffer {
  const name = `${request.keyLabel}\0${request.keyId ?? ''}`;
  const key = keys.fresh(name) ?? keys.check(name, directCopyOps(p, s, request.keyLabel, request.keyId));
  if (!key) throw new Error(`no private key labelled ${request.keyLabel} on the token`);
  return key;
}

function signOne(request: SignContext, data: Uint8Array): Uint8Array {
  const { p, session: s } = open();
  const digest = createHash(request.hash).update(data).digest();
  const ecdsa = request.family === 'ecdsa';
  p.C_SignInit(s, { mechanism: ecdsa ? pkcs11js.CKM_ECDSA : pkcs11js.CKM_RSA_PKCS }, privateKey(p, s, request));
  const signature = p.C_Sign(s, ecdsa ? digest : Buffer.concat([DIGEST_INFO_PREFIX[request.hash], digest]), output);
  return ecdsa ? ecdsaRawToDer(new Uint8Array(signature)) : new Uint8Array(signature);
}

serveWorker('hm-sign', (items: Uint8Array[], context) => {
  const request = context as SignContext;
  try {
    return items.map((data) => signOne(request, data));
  } catch (e) {
    if (!recoveryFor(e)) throw e;
    // The main thread may have re-initialised the module, or the session was lost: once more on a new one.
    abandonSession();
    return items.map((data) => signOne(request, data));
  }
}, packedBytesWorkerCodec);
