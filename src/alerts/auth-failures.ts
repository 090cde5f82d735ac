import type { AuthBlock, BlockScope } from '../store/auth-blocks.js';
export type { AuthBlock, BlockScope } from '../store/auth-blocks.js';
import { randomBytes } from 'node:crypto';
import type { SecurityConfig } from '../config/ca-config.js';
import type { AlertSink } from './sink.js';
import { createSlidingWindow } from './sliding-window.js';

export type AuthFailureConfig = SecurityConfig['alerts']['authFailures'];

/**
 * Who failed: the client address, and the credential the attempt named when it names one that exists
 * (`apikey:<id>`, `session:<id>`, `operator:<name>`, `est:<device>`, `certificate:<serial>`). An
 * attempt that names nothing known (malformed, an unknown key id) has no credential.
 */
export interface FailureSubject {
  source: string;
  credential?: string;
}



export interface AuthFailureGuard {
  /** Seconds until this address and credential may try again, or 0. */
  blockedFor(subject: FailureSubject, now: Date): number;
  recordFailure(subject: FailureSubject, now: Date): void;
}

/** What one failure crossed: new blocks, and an account failing from several addresses. */
export interface Crossing {
  blocks: AuthBlock[];
  distributed?: { credential: string; failures: number; sources: number };
}

const keyOf = (scope: BlockScope, source: string | null, credential: string | null) => `${scope}|${source ?? ''}|${credential ?? ''}`;

/** Blocks in force by what they refuse; an expired or lifted block is forgotten. */
export function createBlockList() {
  const blocks = new Map<string, AuthBlock>();
  const liveUntil = (key: string, now: number) => {
    const block = blocks.get(key);
    if (!block) return 0;
    if (block.until > now) return block.until;
    blocks.delete(key);
    return 0;
  };
  return {
    /** Until when a request from `source` naming `credential` is refused, or 0. */
    until({ source, credential }: FailureSubject, now: number): number {
      const candidates = [liveUntil(keyOf('address', source, null), now)];
      if (credential) candidates.push(liveUntil(keyOf('pair', source, credential), now), liveUntil(keyOf('credential', null, credential), now));
      return Math.max(...candidates);
    },
    has: (scope: BlockScope, source: string | null, credential: string | null, now: number) => liveUntil(keyOf(scope, source, credential), now) > 0,
    add(block: AuthBlock): void {
      if (block.until) blocks.set(keyOf(block.scope, block.source, block.credential), block);
    },
    /** Takes a block away (lifted by an operator): by its id. */
    lift(id: string): void {
      for (const [key, block] of blocks) if (block.id === id) blocks.delete(key);
    },
    active: (now: number) => [...blocks.values()].filter((b) => b.until > now),
  };
}

/**
 * Failures counted three ways within the window (docs/security-model.md, "Authentication failures"):
 * - per address and credential: `threshold` blocks that pair (a station with a wrong key blocks itself,
 *   not the factory's other stations behind the same NAT address);
 * - per credential, from any address: `credentialThreshold` blocks the credential everywhere, and
 *   `threshold` failures from several addresses raise the account-under-attack alert;
 * - per address, for attempts that name no known credential (malformed tokens, unknown ids: guessing
 *   without a target): `threshold` blocks the address.
 * Times in epoch milliseconds; requests refused by a block are not failures and are not counted.
 */
export function createFailureCounter(config: AuthFailureConfig) {
  const windowMs = config.windowSeconds * 1000;
  const window = createSlidingWindow(windowMs);
  const blocks = createBlockList();
  /** Addresses each credential failed from lately (when each last did), for the distributed alert. */
  const sourcesOf = new Map<string, Map<string, number>>();
  const alerted = new Map<string, number>();
  const newBlock = (scope: BlockScope, source: string | null, credential: string | null, failures: number, now: number): AuthBlock => ({
    id: randomBytes(8).toString('hex'),
    scope,
    source,
    credential,
    failures,
    createdAt: now,
    until: config.blockSeconds > 0 ? now + config.blockSeconds * 1000 : 0,
  });
  return {
    blocks,
    /** Counts one failure; says what it crossed. */
    record({ source, credential }: FailureSubject, now: number): Crossing {
      const crossing: Crossing = { blocks: [] };
      const count = (scope: BlockScope, src: string | null, cred: string | null, threshold: number) => {
        const key = keyOf(scope, src, cred);
        const failures = window.add(key, now);
        if (failures < threshold || blocks.has(scope, src, cred, now)) return;
        const block = newBlock(scope, src, cred, failures, now);
        blocks.add(block);
        window.reset(key);
        if (block.until) crossing.blocks.push(block);
      };
      if (!credential) {
        count('address', source, null, config.threshold);
        return crossing;
      }
      count('pair', source, credential, config.threshold);
      count('credential', null, credential, config.credentialThreshold);
      let sources = sourcesOf.get(credential);
      if (!sources) {
        // Bounded: the oldest credential tracked goes first.
        if (sourcesOf.size >= 10_000) sourcesOf.delete(sourcesOf.keys().next().value!);
        sourcesOf.set(credential, (sources = new Map()));
      }
      sources.set(source, now);
      for (const [s, at] of sources) if (at <= now - windowMs) sources.delete(s);
      const failures = window.count(keyOf('credential', null, credential), now);
      const last = alerted.get(credential) ?? -Infinity;
      if (sources.size >= 2 && failures >= config.threshold && last <= now - windowMs) {
        alerted.set(credential, now);
        crossing.distributed = { credential, failures, sources: sources.size };
      }
      return crossing;
    },
  };
}

export function raiseAuthFailureAlerts(alerts: AlertSink, config: AuthFailureConfig, crossing: Crossing): void {
  for (const block of crossing.blocks) {
    const what = block.scope === 'address' ? `from ${block.source} naming no known credential` : block.scope === 'pair' ? `for ${block.credential} from ${block.source}` : `for ${block.credential} from any address`;
    alerts.raise({
      rule: 'auth-failures',
      severity: 'warning',
      message: `${block.failures} authentication failures ${what} within ${config.windowSeconds}s; blocked for ${config.blockSeconds}s (hallmark security blocks lift ${block.id})`,
      details: { block: block.id, scope: block.scope, source: block.source, credential: block.credential, failures: block.failures, windowSeconds: config.windowSeconds, blockSeconds: config.blockSeconds },
    });
  }
  if (crossing.distributed) {
    const { credential, failures, sources } = crossing.distributed;
    alerts.raise({
      rule: 'account-under-attack',
      severity: 'critical',
      message: `${failures} authentication failures for ${credential} from ${sources} addresses within ${config.windowSeconds}s`,
      details: { credential, failures, sources, windowSeconds: config.windowSeconds },
    });
  }
}

const secondsUntil = (until: number, now: Date) => (until ? Math.ceil((until - now.getTime()) / 1000) : 0);

/** Where blocks are kept beyond this process (the database), so that the CLI can list and lift them. */
export interface BlockRecord {
  save(block: AuthBlock): void;
}

/**
 * The guard of a serving process: counts here, raises the alerts, and hands each new block to the
 * record. The workers of `serve --workers` count together (src/cluster/auth-failures.ts).
 */
export function createAuthFailureGuard(config: AuthFailureConfig, alerts: AlertSink, record?: BlockRecord) {
  const counter = createFailureCounter(config);
  const guard: AuthFailureGuard = {
    blockedFor: (subject, now) => secondsUntil(counter.blocks.until(subject, now.getTime()), now),
    recordFailure(subject, now) {
      const crossing = counter.record(subject, now.getTime());
      for (const block of crossing.blocks) record?.save(block);
      raiseAuthFailureAlerts(alerts, config, crossing);
    },
  };
  return { guard, blocks: counter.blocks };
}

/**
 * A guard whose counting is done elsewhere (the primary of `serve --workers`): failures are reported,
 * and the blocks decided there come back through `blocks.add`.
 */
export function createRelayedAuthFailureGuard(report: (subject: FailureSubject) => void) {
  const blocks = createBlockList();
  const guard: AuthFailureGuard = {
    blockedFor: (subject, now) => secondsUntil(blocks.until(subject, now.getTime()), now),
    recordFailure: (subject) => report(subject),
  };
  return { guard, blocks };
}
