import type { AuditLog } from '../audit/log.js';
import type { Clock } from '../base/clock.js';
import type { RevocationConfig } from '../config/ca-config.js';
import type { CrlRow, CrlStore } from '../store/crls.js';
import { encodeCrl } from '../x509/crl-builder.js';
import { assertLintClean, lintCrl } from '../lint/index.js';
import { rawSubject } from '../x509/certificate-fields.js';
import { algorithmIdentifier } from '../x509/signature-algorithms.js';
import type { IssuerRegistry } from './issuer.js';

export interface CrlDeps {
  issuers: IssuerRegistry;
  crls: CrlStore;
  audit: AuditLog;
  clock: Clock;
  config: RevocationConfig['crl'];
}

const HOUR = 3_600_000;

/**
 * Signs a new CRL for one CA and stores it: reserve the next number, stream the revoked entries to
 * the builder, let the HSM sign the digest, store, audit. Serving never calls this.
 */
export async function generateCrl(deps: CrlDeps, caName: string, actor: string): Promise<CrlRow> {
  const issuer = deps.issuers.exact(caName);
  // Taken before reading the entries: a status change at or after it is not in this CRL.
  const startedAt = deps.clock.now().getTime();
  const previous = await deps.crls.latest(caName);
  const number = await deps.crls.reserveNumber(caName);
  const thisUpdate = new Date(Math.floor(deps.clock.now().getTime() / 1000) * 1000);
  const nextUpdate = new Date(thisUpdate.getTime() + deps.config.validityHours * HOUR);
  const started = Date.now();
  const unsigned = await encodeCrl(
    { issuer: rawSubject(issuer.certificate), issuerKeyId: issuer.ski, thisUpdate, nextUpdate, number, signature: algorithmIdentifier(issuer.signer.algorithm) },
    deps.crls.revokedEntries(caName, thisUpdate),
    issuer.signer.algorithm.hash,
  );
  // Linted before the HSM signs anything (lint/).
  assertLintClean(lintCrl(unsigned.tbsWithoutEntries, issuer.lint, deps.clock.now(), previous ? BigInt(previous.number) : undefined), `the CRL of ${caName}`);
  const built = { der: unsigned.withSignature(await issuer.signer.signDigest(unsigned.digest)), entries: unsigned.entries };
  const row: CrlRow = {
    issuer: caName,
    number: Number(number),
    this_update: thisUpdate.getTime(),
    next_update: nextUpdate.getTime(),
    entries: built.entries,
    der: Buffer.from(built.der),
    created_at: startedAt,
  };
  await deps.crls.insert(row);
  await deps.audit.record({
    actor,
    action: 'crl.generate',
    target: caName,
    outcome: 'success',
    details: { number: row.number, entries: row.entries, bytes: row.der.length, nextUpdate: nextUpdate.toISOString(), ms: Date.now() - started },
  });
  return row;
}

export interface CrlUpdater {
  /** A revocation happened here: sign a new CRL for that issuer soon, one for a burst. */
  revoked(issuer: string): void;
  /**
   * Signs for every CA whose newest CRL is missing, past refreshAfterHours, or older than the
   * newest status change of its certificates (a revocation made by the CLI or another instance).
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

  const run = (ca: string, actor: string): Promise<void> => {
    const previous = running.get(ca) ?? Promise.resolve();
    const next = previous
      .then(async () => {
        if (!(await deps.crls.claimGeneration(ca, deps.clock.now().getTime()))) return;
        onGenerated(await generateCrl(deps, ca, actor));
      })
      .catch((e: Error) => log(`CRL generation for ${ca} failed: ${e.message}`))
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
          void run(issuer, 'system:crl');
        }, deps.config.coalesceMs),
      );
    },
    async refreshDue() {
      const now = deps.clock.now().getTime();
      for (const issuer of deps.issuers.list()) {
        const latest = await deps.crls.latest(issuer.name);
        const stale =
          !latest || Number(latest.this_update) + deps.config.refreshAfterHours * HOUR <= now || (await deps.crls.changedSince(issuer.name, Number(latest.created_at)));
        if (stale) await run(issuer.name, 'system:crl');
      }
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

