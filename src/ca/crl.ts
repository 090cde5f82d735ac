import type { AuditLog } from '../audit/log.js';
import type { Clock } from '../base/clock.js';
import { HallmarkError } from '../base/errors.js';
import type { RevocationConfig } from '../config/ca-config.js';
import { WHOLE, type CrlKindName, type CrlRow, type CrlStore } from '../store/crls.js';
import { encodeCrl, type CrlEntry } from '../x509/crl-builder.js';
import { assertLintClean, lintCrl } from '../lint/index.js';
import { rawSubject } from '../x509/certificate-fields.js';
import { algorithmIdentifier } from '../x509/signature-algorithms.js';
import type { IssuerRegistry } from './issuer.js';
import { scopeDeltaUrl, scopeName, scopesOf, scopeUrl, type CrlPolicy, type CrlScope } from './crl-scope.js';

export interface CrlDeps {
  issuers: IssuerRegistry;
  crls: CrlStore;
  audit: AuditLog;
  clock: Clock;
  config: RevocationConfig['crl'];
  /** Each CA family's `cas[].crl`: shards and deltas. */
  policy: (family: string) => CrlPolicy;
  /** Where relying parties fetch CRLs: a shard's issuing distribution point and the freshest CRL name it. */
  publicBaseUrl: string;
}

const HOUR = 3_600_000;
const wholeSecond = (ms: number) => Math.floor(ms / 1000) * 1000;

/**
 * Signs a new CRL for one scope of a CA and stores it: reserve the next number, stream the entries to
 * the builder, let the HSM sign the digest, store, audit. Serving never calls this.
 *
 * A complete CRL lists every revoked, unexpired certificate of its scope. A delta (RFC 5280 §5.2.4)
 * lists what changed since the scope's newest complete CRL was made, its base: revocations, and
 * releases from hold as removeFromCRL. A shard's CRLs carry its issuing distribution point (§5.2.5),
 * the URL its certificates name; the whole CRL has none, and covers every certificate of the CA.
 */
export async function generateCrl(deps: CrlDeps, scope: CrlScope, actor: string, kind: CrlKindName = 'complete'): Promise<CrlRow> {
  const issuer = deps.issuers.exact(scope.ca);
  const policy = deps.policy(issuer.family);
  // Taken before reading the entries: a status change at or after it is not in this CRL.
  const startedAt = deps.clock.now().getTime();
  const base = kind === 'delta' ? await deps.crls.latest(scope.ca, scope.shard, 'complete') : undefined;
  if (kind === 'delta' && !base) throw new HallmarkError('no_base_crl', `no complete CRL of ${scopeName(scope)} yet for a delta CRL to update: sign one first (hallmark crl generate)`, 409);
  const previous = await deps.crls.latest(scope.ca, scope.shard, kind);
  const number = await deps.crls.reserveNumber(scope.ca);
  const thisUpdate = new Date(wholeSecond(deps.clock.now().getTime()));
  const nextUpdate = new Date(thisUpdate.getTime() + deps.config.validityHours * HOUR);
  const started = Date.now();
  const entries: AsyncIterable<CrlEntry> = base ? deps.crls.changedEntries(scope.ca, Number(base.created_at), thisUpdate, scope.shard) : deps.crls.revokedEntries(scope.ca, thisUpdate, scope.shard);
  const unsigned = await encodeCrl(
    {
      issuer: rawSubject(issuer.certificate),
      issuerKeyId: issuer.ski,
      thisUpdate,
      nextUpdate,
      number,
      signature: algorithmIdentifier(issuer.signer.algorithm),
      distributionPoint: scope.shard === null ? undefined : scopeUrl(deps.publicBaseUrl, scope),
      baseNumber: base ? BigInt(base.number) : undefined,
      freshestCrl: policy.deltas ? scopeDeltaUrl(deps.publicBaseUrl, scope) : undefined,
    },
    entries,
    issuer.signer.algorithm.hash,
  );
  // Linted before the HSM signs anything (lint/).
  assertLintClean(lintCrl(unsigned.tbsWithoutEntries, issuer.lint, deps.clock.now(), previous ? BigInt(previous.number) : undefined), `the ${kind} CRL of ${scopeName(scope)}`);
  const der = unsigned.withSignature(await issuer.signer.signDigest(unsigned.digest));
  const row: CrlRow = {
    issuer: scope.ca,
    number: Number(number),
    this_update: thisUpdate.getTime(),
    next_update: nextUpdate.getTime(),
    entries: unsigned.entries,
    der: Buffer.from(der),
    created_at: startedAt,
    shard: scope.shard ?? WHOLE,
    base_number: base ? Number(base.number) : null,
  };
  await deps.crls.insert(row);
  await deps.audit.record({
    actor,
    action: 'crl.generate',
    target: scopeName(scope),
    outcome: 'success',
    details: {
      number: row.number,
      kind,
      ...(scope.shard === null ? {} : { shard: scope.shard }),
      ...(base ? { base: row.base_number } : {}),
      entries: row.entries,
      bytes: row.der.length,
      nextUpdate: nextUpdate.toISOString(),
      ms: Date.now() - started,
    },
  });
  return row;
}

/** Every scope a CA generation publishes now (its family's policy, and any higher shard count recorded). */
export async function scopesOfCa(deps: CrlDeps, ca: string): Promise<CrlScope[]> {
  const family = deps.issuers.exact(ca).family;
  return scopesOf(ca, Math.max(deps.policy(family).shards, await deps.crls.shardCount(family)));
}

export interface CrlUpdater {
  /** A revocation happened here: sign new CRLs for that issuer soon, one round for a burst. */
  revoked(issuer: string): void;
  /**
   * Signs, for every scope of every CA, what is missing or due: a complete CRL missing or past
   * refreshAfterHours, or (without deltas) older than a status change in its scope (a revocation made
   * by the CLI or another instance); with deltas, a delta for the newest complete CRL, re-signed on a
   * change and every refreshAfterHours. Cheap when nothing is due: one lookup per CA.
   */
  refreshDue(): Promise<void>;
  /** Resolves when no generation is pending or running. */
  idle(): Promise<void>;
  close(): void;
}

/**
 * Keeps CRLs fresh for `serve`: coalesced regeneration after revocations, and a refresh well before
 * nextUpdate. Instances sharing a database claim each regeneration first, so one of them signs it.
 */
export function createCrlUpdater(deps: CrlDeps, onGenerated: (row: CrlRow) => void, log: (line: string) => void): CrlUpdater {
  const timers = new Map<string, NodeJS.Timeout>();
  const running = new Map<string, Promise<void>>();
  /** Per CA: status changes from `from` on are not looked at yet; nothing is due before `dueAt`; under `shards` shards. */
  const checked = new Map<string, { from: number; dueAt: number; shards: number }>();
  const refreshMs = deps.config.refreshAfterHours * HOUR;

  /** Signs unless another instance claimed this one a moment ago; false then (look again soon). */
  const sign = async (scope: CrlScope, kind: CrlKindName, actor: string): Promise<boolean> => {
    if (!(await deps.crls.claimGeneration(`${scopeName(scope)}.${kind}`, deps.clock.now().getTime()))) return false;
    onGenerated(await generateCrl(deps, scope, actor, kind));
    return true;
  };

  /** One scope: signs what is due; returns when it next falls due. */
  const refreshScope = async (scope: CrlScope, deltas: boolean, now: number, actor: string): Promise<number> => {
    const complete = await deps.crls.latest(scope.ca, scope.shard, 'complete');
    const completeDue = !complete || Number(complete.this_update) + refreshMs <= now || (!deltas && (await deps.crls.changedSince(scope.ca, Number(complete.created_at), scope.shard)));
    if (completeDue) {
      const signed = await sign(scope, 'complete', actor);
      // The delta for the new base comes on a later pass, at a later thisUpdate: a complete and a delta
      // issued together would have to share one number (RFC 5280 §5.2.3).
      return signed && !deltas ? now + refreshMs : now + 1000;
    }
    if (!deltas) return Number(complete.this_update) + refreshMs;
    if (Number(complete.this_update) >= wholeSecond(now)) return now + 1000;
    const delta = await deps.crls.latest(scope.ca, scope.shard, 'delta');
    const current = delta && Number(delta.base_number) === Number(complete.number);
    if (!current || Number(delta.this_update) + refreshMs <= now || (await deps.crls.changedSince(scope.ca, Number(delta.created_at), scope.shard))) {
      return (await sign(scope, 'delta', actor)) ? Number(complete.this_update) + refreshMs : now + 1000;
    }
    return Math.min(Number(complete.this_update), Number(delta.this_update)) + refreshMs;
  };

  /** Every scope of one CA, unless nothing changed, nothing fell due and the shard count is the same. */
  const refreshCa = async (ca: string, actor: string, force: boolean) => {
    const now = deps.clock.now().getTime();
    const scopes = await scopesOfCa(deps, ca);
    const shards = scopes.length - 1;
    const last = checked.get(ca);
    if (!force && last && last.shards === shards && now < last.dueAt && !(await deps.crls.changedSince(ca, last.from))) return;
    const deltas = deps.policy(deps.issuers.exact(ca).family).deltas;
    let dueAt = Infinity;
    for (const scope of scopes) dueAt = Math.min(dueAt, await refreshScope(scope, deltas, now, actor));
    checked.set(ca, { from: now, dueAt, shards });
  };

  const run = (ca: string, actor: string, force: boolean): Promise<void> => {
    const previous = running.get(ca) ?? Promise.resolve();
    const next = previous
      .then(() => refreshCa(ca, actor, force))
      .catch((e: Error) => {
        checked.delete(ca);
        log(`CRL generation for ${ca} failed: ${e.message}`);
      })
      .finally(() => {
        if (running.get(ca) === next) running.delete(ca);
      });
    running.set(ca, next);
    return next;
  };

  return {
    revoked(issuer) {
      if (timers.has(issuer)) return;
      timers.set(
        issuer,
        setTimeout(() => {
          timers.delete(issuer);
          void run(issuer, 'system:crl', true);
        }, deps.config.coalesceMs),
      );
    },
    async refreshDue() {
      for (const issuer of deps.issuers.list()) await run(issuer.name, 'system:crl', false);
    },
    async idle() {
      while (timers.size || running.size) {
        await Promise.all([...running.values()]);
        if (timers.size) await new Promise((r) => setTimeout(r, deps.config.coalesceMs + 10));
      }
    },
    close() {
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
    },
  };
}
