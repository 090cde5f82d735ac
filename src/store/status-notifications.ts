import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { isPostgres } from './db.js';
import { sql, type Store } from './handle.js';

/** The channel migration 023's trigger notifies on, the payload being the schema. */
const CHANNEL = 'hallmark_status';
/** How long the probe at each connection may take before the connection is judged unable to deliver. */
const PROBE_TIMEOUT_MS = 2_000;
/** Waits between attempts to listen again after a failure: soon at first, then no more than every 15 s. */
const RETRY_MS = [250, 1_000, 5_000, 15_000];

export interface StatusNotifications {
  /** True while notifications are known to arrive: connected, listening, and the probe came back. */
  live(): boolean;
  close(): Promise<void>;
}

/**
 * PostgreSQL: tells this instance at once when a certificate's status changes anywhere in its schema
 * (another instance, the CLI), by LISTEN on a connection of its own (not the pool's: a listening session
 * must stay open). `onChange` runs for each notification, and after each connection, for what changed
 * while nobody listened. A connection is trusted only once a probe sent through the pool, as another
 * instance's notification would be, has come back on it: a pooler that does not keep sessions
 * (PgBouncer in transaction mode) passes LISTEN but delivers nothing, and the caller then keeps polling.
 * A lost connection is made again, with a growing wait. Undefined on SQLite, which has no NOTIFY.
 */
export function listenForStatusChanges(store: Store, handlers: { onChange(): void; log(line: string): void }): StatusNotifications | undefined {
  const db = sql(store);
  if (!isPostgres(db)) return undefined;
  let client: pg.Client | undefined;
  let live = false;
  let closed = false;
  let failures = 0;
  let retry: NodeJS.Timeout | undefined;

  /** Connects, listens, and waits for the probe; throws when any of it fails. `made` is told of the client. */
  async function listen(made: (c: pg.Client) => void): Promise<void> {
    const schema = ((await db.raw('SELECT current_schema() AS schema')) as { rows: { schema: string }[] }).rows[0]!.schema;
    if (closed) return;
    const connection = db.client.config.connection as string | pg.ClientConfig;
    // Named after the schema, so that pg_stat_activity tells apart the deployments sharing a server.
    const c = new pg.Client({ ...(typeof connection === 'string' ? { connectionString: connection } : connection), application_name: `hallmark-status ${schema}`.slice(0, 63) });
    client = c;
    made(c);
    c.on('error', (e) => lost(c, e));
    c.on('end', () => lost(c));
    const probe = `${schema}:probe:${randomUUID()}`;
    let probed!: () => void;
    const arrived = new Promise<void>((resolve) => (probed = resolve));
    c.on('notification', (n) => {
      if (n.channel !== CHANNEL) return;
      if (n.payload === probe) probed();
      else if (n.payload === schema && live) handlers.onChange();
    });
    await c.connect();
    await c.query(`LISTEN ${CHANNEL}`);
    await db.raw('SELECT pg_notify(?, ?)', [CHANNEL, probe]);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no notification came back within ${PROBE_TIMEOUT_MS} ms (a connection pooler in transaction mode?)`)), PROBE_TIMEOUT_MS);
    });
    try {
      await Promise.race([arrived, late]);
    } finally {
      clearTimeout(timer);
    }
    if (client !== c) return; // closed, or lost meanwhile
    live = true;
    if (failures) handlers.log('status notifications: listening again');
    failures = 0;
    handlers.onChange();
  }

  /** `c` failed (undefined: before it existed): it is let go and listening is tried again after a wait. */
  function lost(c: pg.Client | undefined, e?: Error): void {
    if (c !== client) return;
    client = undefined;
    live = false;
    c?.end().catch(() => undefined);
    // One attempt waiting at a time (a failed connect reports both an 'error' and a rejection).
    if (closed || retry) return;
    // Said once per outage, not at every attempt.
    if (failures === 0) handlers.log(`status notifications lost (${e?.message ?? 'connection closed'}); polling for status changes until they are back`);
    const wait = RETRY_MS[Math.min(failures++, RETRY_MS.length - 1)]!;
    retry = setTimeout(() => {
      retry = undefined;
      start();
    }, wait);
    retry.unref();
  }

  function start(): void {
    if (closed) return;
    // This attempt's own client: a probe that times out after its connection was lost and replaced must
    // not take the replacement down (lost() ignores any client but the current one).
    let mine: pg.Client | undefined;
    listen((c) => (mine = c)).catch((e: Error) => lost(mine, e));
  }

  start();
  return {
    live: () => live,
    async close() {
      closed = true;
      live = false;
      clearTimeout(retry);
      const c = client;
      client = undefined;
      await c?.end().catch(() => undefined);
    },
  };
}
