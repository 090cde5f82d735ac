import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import pkcs11js from 'pkcs11js';

/**
 * The raw PKCS#11 signing rate of a token key: C_SignInit + C_Sign (CKM_ECDSA) on a fixed digest in
 * a tight synchronous loop, one session per thread — the ceiling no certificate path can beat.
 */
export interface RawSignTarget {
  modulePath: string;
  tokenLabel: string;
  pin: string;
  keyLabel: string;
}

function loop(target: RawSignTarget, ms: number): number {
  const p = new pkcs11js.PKCS11();
  p.load(target.modulePath);
  const tolerate = (code: number, call: () => void) => {
    try {
      call();
    } catch (e) {
      if ((e as { code?: number }).code !== code) throw e;
    }
  };
  tolerate(0x191, () => p.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK }));
  const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trim() === target.tokenLabel)!;
  const session = p.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
  tolerate(0x100, () => p.C_Login(session, pkcs11js.CKU_USER, target.pin));
  p.C_FindObjectsInit(session, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
    { type: pkcs11js.CKA_LABEL, value: target.keyLabel },
  ]);
  const [key] = p.C_FindObjects(session, 1);
  p.C_FindObjectsFinal(session);
  if (!key) throw new Error(`no private key ${target.keyLabel}`);
  const digest = Buffer.alloc(32, 7);
  const out = Buffer.alloc(132);
  let n = 0;
  const started = performance.now();
  const deadline = started + ms;
  while (performance.now() < deadline) {
    for (let i = 0; i < 50; i++) {
      p.C_SignInit(session, { mechanism: pkcs11js.CKM_ECDSA }, key);
      p.C_Sign(session, digest, out);
    }
    n += 50;
  }
  p.C_CloseSession(session);
  return n / ((performance.now() - started) / 1000);
}

/** Signatures per second summed over `threads` worker threads, each with its own session. */
export async function rawSignRate(target: RawSignTarget, threads: number, seconds = 3): Promise<number> {
  const rates = await Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<number>((resolve, reject) => {
          const worker = new Worker(new URL(import.meta.url), { workerData: { target, ms: seconds * 1000 } });
          worker.once('message', resolve);
          worker.once('error', reject);
        }),
    ),
  );
  return rates.reduce((a, b) => a + b, 0);
}

if (!isMainThread && workerData?.target) parentPort!.postMessage(loop(workerData.target, workerData.ms));
