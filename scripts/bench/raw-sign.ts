import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import pkcs11js from 'pkcs11js';
import { directCopyOps, findPrivateKey, openDirectSession, type DirectTarget } from '../../src/keys/pkcs11/direct-session.js';

/**
 * The raw PKCS#11 signing rate of a token key: C_SignInit + C_Sign (CKM_ECDSA) on a fixed digest in
 * a tight synchronous loop, one session per thread — the ceiling no certificate path can beat. It signs
 * through a working copy of the key, as Hallmark does (src/keys/pkcs11/working-copies.ts).
 */
export interface RawSignTarget extends DirectTarget {
  keyLabel: string;
}

function loop(target: RawSignTarget, ms: number): number {
  const { p, session } = openDirectSession(target);
  const ops = directCopyOps(p, session, target.keyLabel);
  const stored = findPrivateKey(p, session, target.keyLabel);
  const key = ops.copy(stored) ?? stored;
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
export async function sessionSignRate(target: RawSignTarget, threads: number, seconds = 3): Promise<number> {
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
