import type * as graphene from 'graphene-pk11';
import type { TokenConnection } from './token.js';
import { hsmUnavailable, recoveryFor } from './errors.js';

/**
 * A PKCS#11 session runs one operation at a time (CKR_OPERATION_ACTIVE otherwise), so operations take
 * a session from this pool and give it back. Sessions belong to a generation of the connection: after
 * a reset, old ones are dropped rather than reused. An operation that fails because the session or
 * the module was lost is retried once on a fresh one.
 */
export interface SessionPool {
  run<T>(operation: (session: graphene.Session) => Promise<T> | T, what: string): Promise<T>;
  /** Called after a reset so that caches keyed on object handles can be cleared. */
  onReset(listener: () => void): void;
  /** Initialises the module again (it reads the token's objects anew; see store.ts getSigner). */
  refresh(): void;
  close(): void;
}

export function createSessionPool(connection: TokenConnection, size: number): SessionPool {
  const idle: { session: graphene.Session; generation: number }[] = [];
  const waiters: (() => void)[] = [];
  const resetListeners: (() => void)[] = [];
  let open = 0;

  async function acquire(): Promise<{ session: graphene.Session; generation: number }> {
    for (;;) {
      const generation = connection.generation();
      const ready = idle.pop();
      if (ready && ready.generation === generation) return ready;
      if (ready) {
        open--;
        continue; // stale: its module was re-initialised, the handle is meaningless now
      }
      if (open < size) {
        open++;
        try {
          return { session: connection.openSession(), generation };
        } catch (e) {
          open--;
          throw e;
        }
      }
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  }

  function release(entry: { session: graphene.Session; generation: number }, healthy: boolean): void {
    if (healthy && entry.generation === connection.generation()) idle.push(entry);
    else {
      open--;
      if (entry.generation === connection.generation()) {
        try {
          entry.session.close();
        } catch {
          // The session is already gone; nothing to close.
        }
      }
    }
    waiters.shift()?.();
  }

  function reset(kind: 'session' | 'module'): void {
    if (kind === 'module') connection.reopen();
    else {
      // Drop every session of this generation: a lost login or closed session affects them all.
      for (const entry of idle.splice(0)) {
        open--;
        try {
          entry.session.close();
        } catch {
          // Already invalid.
        }
      }
      connection.forgetLogin();
    }
    for (const listener of resetListeners) listener();
  }

  async function attempt<T>(operation: (session: graphene.Session) => Promise<T> | T): Promise<T> {
    const entry = await acquire();
    try {
      const result = await operation(entry.session);
      release(entry, true);
      return result;
    } catch (e) {
      release(entry, recoveryFor(e) === undefined);
      throw e;
    }
  }

  return {
    async run(operation, what) {
      try {
        return await attempt(operation);
      } catch (first) {
        const recovery = recoveryFor(first);
        if (!recovery) throw first;
        try {
          reset(recovery);
          return await attempt(operation);
        } catch (second) {
          if (recoveryFor(second) !== undefined || second === first) throw hsmUnavailable(what, second);
          // A module that cannot come back (token gone) says so through its own error.
          throw (second as { status?: number }).status ? second : hsmUnavailable(what, second);
        }
      }
    },
    onReset(listener) {
      resetListeners.push(listener);
    },
    refresh() {
      reset('module');
    },
    close() {
      for (const entry of idle.splice(0)) {
        try {
          entry.session.close();
        } catch {
          // Closing is best effort.
        }
      }
      open = 0;
    },
  };
}
