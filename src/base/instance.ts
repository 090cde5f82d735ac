import { randomBytes } from 'node:crypto';
import os from 'node:os';

/**
 * This process as other processes see it: its host and pid (a process on the same host can tell
 * whether it still runs) and a nonce (a pid is reused after a restart).
 */
export const INSTANCE = (() => {
  const host = os.hostname();
  const pid = process.pid;
  return { host, pid, id: `${host}/${pid}/${randomBytes(4).toString('hex')}` };
})();

/** Whether the instance named by `id` is known to be dead: on this host, its pid runs no more. */
export function knownDead(id: string): boolean {
  const [host, pid] = id.split('/');
  if (host !== INSTANCE.host || !pid) return false;
  if (id === INSTANCE.id) return false;
  try {
    process.kill(Number(pid), 0);
    // The pid runs: the same process, or another that took its number; only the first is alive for us.
    return Number(pid) === INSTANCE.pid;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
