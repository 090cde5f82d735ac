import type { Clock } from '../base/clock.js';
import type { Store, Handle } from '../store/handle.js';
import type { IssuerCa, IssuerRegistry } from './issuer.js';
import { OcspLintRefusal, type OcspResponseSigner } from './ocsp-signing.js';
import { certificateStatusOf, responseWindow } from './ocsp-status.js';
import { encodeResponseData, issuerCertIdHashes, sha1CertId } from '../x509/ocsp.js';
import { groupBy } from '../base/group-by.js';
import { randomUUID } from 'node:crypto';
import { readSetting, writeSetting } from '../store/settings.js';
import {
  asPresigner,
  deleteResponsesExpiredBefore,
  presignCandidatesFor,
  presignSweepPage,
  recentWithoutResponse,
  recordPresignPass,
  type PresignCandidate,
  type SignedResponse,
} from '../store/ocsp-responses.js';

export interface PresignerDeps {
  store: Store;
  issuers: IssuerRegistry;
  signerFor: (ca: string) => OcspResponseSigner | undefined;
  clock: Clock;
  config: { validityMinutes: number; refreshBeforeMinutes: number; presignPerSecond: number };
  log: (line: string) => void;
}

const MINUTE = 60_000;
/** Responses signed per trip to the signing threads, and certificates read per sweep page. */
const SIGN_BATCH = 500;
const SWEEP_PAGE = 2000;
/**
 * New certificates are looked for this far behind where the last look began: a certificate is stamped
 * (created_at) when its intent is recorded and committed as issued after it is signed, well under a
 * second later, and instances' clocks differ by less. One the look misses is found by the sweep.
 */
const RECENT_OVERLAP = 5_000;
/**
 * A look that goes on from a full one (where it stopped, not from its start) looks back only this far:
 * its window starts at the last certificate taken, not at a clock, so only a certificate recorded late
 * (its intent stamped, its signature recorded over two seconds later) could fall behind it, and the
 * sweep finds that one. With the full overlap, passes back to back under load read the last 5 s of
 * certificates again on every pass: 18–27 index scans of ocsp_responses per certificate issued
 * (docs/issuance-performance.md, "Scale-out: the pre-signing counted alike").
 */
const CONTINUED_OVERLAP = 2_000;
/**
 * The look for new certificates is shared by the instances (a settings row, written under the
 * pre-signer's lock): where it has got to, when and by whom. An instance skips its look when another
 * one looked less than this long ago. Each look reads every certificate of its window (the time since
 * the last look, plus the overlap): with a look per instance per pass, n instances read each new
 * certificate n times as often (docs/issuance-performance.md, "Scale-out: warm-up, and what grows with
 * instances").
 */
const RECENT_LOOK_EVERY = 1_000;
const RECENT_STATE = 'ocsp_presign_recent';

interface RecentState {
  /** Certificates created after this (less the overlap) are the next look's. */
  since: number;
  /** When the last look was made, and by which pre-signer; `more`: it stopped at a full batch. */
  at: number;
  by: string;
  more: boolean;
}

async function readRecentState(handle: Handle): Promise<RecentState | undefined> {
  const text = await readSetting(handle, RECENT_STATE);
  return text ? (JSON.parse(text) as RecentState) : undefined;
}

/**
 * Pre-produced OCSP responses (RFC 6960 §4.2.2.1, RFC 5019 §2.2): one signed response per issued,
 * unexpired certificate, kept in the store for every instance. Each pass, in this order: certificates
 * whose status just changed (revocation, hold, release: re-signed at once), certificates issued since
 * the last pass, then a page of the sweep that walks every certificate in serial order and re-signs
 * what is missing, stale (its status changed since) or within refreshBeforeMinutes of its nextUpdate.
 * One instance signs at a time (store/ocsp-responses.ts asPresigner); the others' passes are no-ops.
 */
export function createOcspPresigner(deps: PresignerDeps) {
  const changed = new Set<string>();
  const me = randomUUID();
  let recentSince = deps.clock.now().getTime() - RECENT_OVERLAP;
  let sweepAfter = '';
  let sweepRestsUntil = 0;
  let earliestDue = Number.POSITIVE_INFINITY;
  /** The last pass stopped with work in hand: its look for new certificates took a full batch, or the sweep had more due. */
  let workLeft = false;
  // Per CA generation (a rollover loads a new one).
  const hashes = new WeakMap<IssuerCa, { name: Uint8Array; key: Uint8Array }>();
  const issuerHashes = (ca: string) => {
    const issuer = deps.issuers.exact(ca);
    let h = hashes.get(issuer);
    if (!h) hashes.set(issuer, (h = issuerCertIdHashes(issuer.certificate)));
    return h;
  };

  const refreshBefore = () => deps.config.refreshBeforeMinutes * MINUTE;
  const isDue = (c: PresignCandidate, now: number) => c.next_update === null || Number(c.next_update) - refreshBefore() <= now || Number(c.signed_status_at) !== Number(c.status_changed_at ?? 0);

  /** Signs a response for each candidate issued; the rows, to be recorded with the rest of the pass. */
  async function sign(candidates: PresignCandidate[], now: number): Promise<SignedResponse[]> {
    const issued = candidates.filter((c) => c.status === 'active' || c.status === 'revoked');
    const { thisUpdate, nextUpdate } = responseWindow(now, deps.config.validityMinutes);
    const rows: SignedResponse[] = [];
    for (const [ca, list] of groupBy(issued, (c) => c.issuer)) {
      const signer = deps.signerFor(ca);
      if (!signer) continue; // no responder for this CA yet: answered live meanwhile
      const { name, key } = issuerHashes(ca);
      for (let i = 0; i < list.length; i += SIGN_BATCH) {
        const chunk = list.slice(i, i + SIGN_BATCH);
        const tbs = chunk.map((c) =>
          encodeResponseData({ responderKeyHash: signer.keyHash, producedAt: thisUpdate, thisUpdate, nextUpdate, answers: [{ certId: sha1CertId(name, key, c.serial), status: certificateStatusOf(c, ca) }] }),
        );
        const signed = await signer.signMany(tbs, new Date(now));
        chunk.forEach((c, j) => {
          const s = signed[j]!;
          if (s instanceof OcspLintRefusal) return deps.log(`OCSP pre-signing of ${c.serial} refused by lint: ${s.message}`);
          rows.push({ serial: c.serial, issuer: ca, signed: s, responder: signer.serial, status_changed_at: Number(c.status_changed_at ?? 0), this_update: thisUpdate.getTime(), next_update: nextUpdate.getTime(), signed_at: 0 });
        });
      }
    }
    return rows;
  }

  /** One pass; how many responses it signed (undefined: another instance holds the pre-signer's lock). */
  async function pass(): Promise<number | undefined> {
    // The pass's positions (the look's, the sweep's) and the status changes it took move on only once it
    // has committed: a pass that fails signed nothing that stays, and its certificates are the next
    // pass's, not left to the sweep's next round (at a fleet's size, minutes away). Work left counts
    // likewise: a failing pass must not make the loop retry at once (a failing database, a hot loop).
    workLeft = false;
    let taken: string[] = [];
    let outcome: { signed: number; at: { recentSince: number; sweepAfter: string; sweepRestsUntil: number; earliestDue: number; left: boolean } } | undefined;
    try {
      outcome = await asPresigner(deps.store, async (handle) => {
        const now = deps.clock.now().getTime();
        const at = { recentSince, sweepAfter, sweepRestsUntil, earliestDue, left: false };
        const rows: SignedResponse[] = [];
        // A certificate is signed once a pass, whichever part finds it first (a new one is both the
        // look's and, with no response yet, the sweep's): one row per certificate in the pass's write.
        const inPass = new Set<string>();
        const once = (candidates: PresignCandidate[]) => candidates.filter((c) => !inPass.has(c.serial) && inPass.add(c.serial));
        if (changed.size) {
          taken = [...changed].slice(0, SIGN_BATCH);
          for (const serial of taken) changed.delete(serial);
          // Every instance is told of every change and each signs it when it next holds the lock: only a
          // certificate whose stored response does not yet answer for its status (or none) is signed again.
          const due = (await presignCandidatesFor(handle, taken)).filter((c) => isDue(c, now));
          rows.push(...(await sign(once(due), now)));
        }
        const state = await readRecentState(handle);
        let lookState: RecentState | undefined;
        const lookedElsewhere = state && state.by !== me && !state.more && now - state.at < RECENT_LOOK_EVERY;
        if (!lookedElsewhere) {
          const since = Math.max(at.recentSince, state?.since ?? 0);
          // Where the last look (this instance's or another's) stopped at a full batch, this one goes on from there.
          const continued = state !== undefined && state.more && state.since >= at.recentSince;
          const recent = await recentWithoutResponse(handle, since - (continued ? CONTINUED_OVERLAP : RECENT_OVERLAP), now, SIGN_BATCH);
          rows.push(...(await sign(once(recent), now)));
          const more = recent.length === SIGN_BATCH;
          at.left ||= more;
          // A full batch: the next look goes on from the last certificate taken; else from this look's start.
          at.recentSince = more ? Number(recent[recent.length - 1]!.created_at) : Math.max(since, now);
          lookState = { since: at.recentSince, at: now, by: me, more };
        }
        if (now >= at.sweepRestsUntil) {
          const page = await presignSweepPage(handle, at.sweepAfter, now, SWEEP_PAGE);
          const allDue: PresignCandidate[] = [];
          for (const c of page) {
            if (isDue(c, now)) allDue.push(c);
            else at.earliestDue = Math.min(at.earliestDue, Number(c.next_update) - refreshBefore());
          }
          const due = allDue.slice(0, SIGN_BATCH);
          rows.push(...(await sign(once(due), now)));
          // Stop at the last certificate signed when the page had more due than one batch: the rest next pass.
          at.sweepAfter = allDue.length > SIGN_BATCH ? due[due.length - 1]!.serial : (page[page.length - 1]?.serial ?? at.sweepAfter);
          at.left ||= allDue.length > SIGN_BATCH;
          if (allDue.length <= SIGN_BATCH && page.length < SWEEP_PAGE) {
            // The sweep reached the end: rest until the first response falls due (a minute at most), and
            // forget the responses of certificates that expired.
            await deleteResponsesExpiredBefore(handle, now);
            at.sweepAfter = '';
            at.sweepRestsUntil = Math.min(at.earliestDue, now + MINUTE);
            at.earliestDue = Number.POSITIVE_INFINITY;
          }
        }
        // Written at the end, together: one pass number for all (instances load by it, store/ocsp-responses.ts).
        const writtenAt = deps.clock.now().getTime();
        for (const row of rows) row.signed_at = writtenAt;
        await recordPresignPass(handle, rows);
        // After the responses (on SQLite, where a pass is no one transaction, a look recorded as done has
        // its responses stored).
        if (lookState) await writeSetting(handle, RECENT_STATE, JSON.stringify(lookState));
        return { signed: rows.length, at };
      });
    } catch (e) {
      for (const serial of taken) changed.add(serial);
      throw e;
    }
    if (!outcome) return undefined;
    ({ recentSince, sweepAfter, sweepRestsUntil, earliestDue } = outcome.at);
    workLeft = outcome.at.left;
    return outcome.signed;
  }

  let running: Promise<void> | undefined;
  let stopped = false;
  let wake: (() => void) | undefined;
  /** Passes one after another while there is work (waitAfterPass), else one a second or when told of a status change. */
  async function loop(): Promise<void> {
    while (!stopped) {
      const started = performance.now();
      let signed: number | undefined = 0;
      try {
        signed = await pass();
      } catch (e) {
        deps.log(`OCSP pre-signing pass failed: ${(e as Error).message}`);
      }
      const pacedMs = deps.config.presignPerSecond > 0 ? ((signed ?? 0) / deps.config.presignPerSecond) * 1000 - (performance.now() - started) : 0;
      const wait = waitAfterPass({ signed: signed ?? 0, workLeft, sweepResting: sweepRestsUntil > deps.clock.now().getTime(), statusChanges: changed.size, pacedMs });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        timer.unref();
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  }

  return {
    start(): void {
      running ??= loop();
    },
    async stop(): Promise<void> {
      stopped = true;
      wake?.();
      await running;
    },
    /** A certificate's status changed (here or elsewhere): its response is signed again first. */
    statusChanged(serial: string): void {
      changed.add(serial);
      wake?.();
    },
    pass,
    /** Whether the last pass stopped with work in hand (the loop then passes again at once). */
    workLeft: () => workLeft,
  };
}

/**
 * How long the pass loop waits after a pass, in ms: no longer than presignPerSecond's pace (0: as fast as
 * the token signs) while there is work, else a second. Work is a look for new certificates that came back
 * full or a sweep page with more due (`workLeft`), a sweep under way that signed something, or status
 * changes waiting. The full look counts while the sweep rests: it once did not, and one instance then
 * pre-signed at most 500 new certificates a second and under load fell half a minute behind issuance
 * (docs/issuance-performance.md, "Scale-out: the pre-signing counted alike").
 */
export function waitAfterPass(after: { signed: number; workLeft: boolean; sweepResting: boolean; statusChanges: number; pacedMs: number }): number {
  const busy = after.workLeft || (after.signed > 0 && !after.sweepResting) || after.statusChanges > 0;
  return busy ? Math.max(0, after.pacedMs) : 1000;
}

export type OcspPresigner = ReturnType<typeof createOcspPresigner>;
