import type { Clock } from '../../base/clock.js';
import type { Store } from '../../store/handle.js';
import { lastPresignPass, responsesAfterSerial, responsesWrittenAfter, type OcspResponseRow } from '../../store/ocsp-responses.js';
import { allResponderCertificates } from '../../store/responders.js';
import { wrapOcspResponse } from '../../x509/ocsp.js';
import { createSlabAllocator } from '../../base/byte-arena.js';
import type { OcspAnswer } from './responder.js';
import { createHeldResponses } from './held-responses.js';

const PAGE = 10_000;
/** How often responses past their nextUpdate (certificates expired or no longer re-signed) are let go. */
const PRUNE_EVERY_MS = 60_000;

/**
 * Every pre-signed response of the store, held in memory on each instance and kept current from the
 * store (responses signed since the last look, by any instance). A status change seen here drops the
 * certificate's response until one signed from the new status arrives; meanwhile it is answered live.
 * Memory is bounded by the unexpired certificates: a response past its nextUpdate is never served and
 * is dropped within a minute (docs/relying-parties.md states the bytes per response measured).
 */
export function createPresignedResponses(deps: {
  store: Store;
  clock: Clock;
  log: (line: string) => void;
  /** A response newer than any held for the certificate was taken: answers cached from before are stale. */
  taken?: (issuer: string, serial: string) => void;
}) {
  const entries = createHeldResponses();
  // The newest status change known for a certificate: rows signed from an older status are not taken.
  const changedAt = new Map<string, number>();
  const responders = new Map<string, Uint8Array>();
  // Answers are written into large slabs and dropped once sent (base/byte-arena.ts).
  const allocateAnswer = createSlabAllocator();
  // Every response written in this pre-signing pass or before has been taken (passes commit in order).
  let readThrough = 0;
  let nextPrune = 0;

  function prune(now: number): void {
    entries.deleteExpired(now);
    nextPrune = now + PRUNE_EVERY_MS;
  }

  async function loadResponders(): Promise<void> {
    for (const r of await allResponderCertificates(deps.store)) responders.set(r.serial, new Uint8Array(r.certificate));
  }

  function take(row: OcspResponseRow, now: number): void {
    const nextUpdate = Number(row.next_update);
    const statusChangedAt = Number(row.status_changed_at);
    const thisUpdate = Number(row.this_update);
    if (nextUpdate <= now || statusChangedAt < (changedAt.get(row.serial) ?? 0)) return;
    const current = entries.times(row.serial);
    if (current && (current.statusChangedAt > statusChangedAt || (current.statusChangedAt === statusChangedAt && current.thisUpdate >= thisUpdate))) return;
    // Copied into the table's arena: the driver's row buffers may be views into a larger one that would stay alive with them.
    entries.set(row.serial, row.signed, { issuer: row.issuer, responder: row.responder, statusChangedAt, thisUpdate, nextUpdate });
    deps.taken?.(row.issuer, row.serial);
  }

  async function takeAll(rows: OcspResponseRow[]): Promise<void> {
    if (rows.some((r) => !responders.has(r.responder))) await loadResponders();
    const now = deps.clock.now().getTime();
    for (const row of rows) take(row, now);
  }

  return {
    /** The first load: every stored response, a page at a time. */
    async load(onProgress?: (loaded: number) => void): Promise<number> {
      // Read first: a row rewritten while the pages are read has a later pass, and the next poll takes it.
      const through = await lastPresignPass(deps.store);
      await loadResponders();
      let after = '';
      for (;;) {
        const rows = await responsesAfterSerial(deps.store, after, PAGE);
        await takeAll(rows);
        onProgress?.(entries.size());
        if (rows.length < PAGE) break;
        after = rows[rows.length - 1]!.serial;
      }
      readThrough = through;
      return entries.size();
    },
    /** Responses written since the last look (by any instance's pre-signer), each read once. */
    async poll(): Promise<number> {
      if (deps.clock.now().getTime() >= nextPrune) prune(deps.clock.now().getTime());
      let taken = 0;
      const cursor = { pass: readThrough + 1, serial: '' };
      for (;;) {
        const rows = await responsesWrittenAfter(deps.store, cursor, PAGE);
        await takeAll(rows);
        taken += rows.length;
        const last = rows[rows.length - 1];
        if (last) {
          cursor.pass = Number(last.written_in);
          cursor.serial = last.serial;
        }
        if (rows.length < PAGE) break;
      }
      // Read to the end: the last pass seen was committed whole, as was every pass before it.
      if (taken > 0) readThrough = cursor.pass;
      return taken;
    },
    /** A status change (`at`: its status_changed_at): the response signed before it is no longer served. */
    invalidate(serial: string, at: number): void {
      const current = entries.times(serial);
      if (current && current.statusChangedAt < at) entries.delete(serial);
      changedAt.set(serial, Math.max(at, changedAt.get(serial) ?? 0));
      if (changedAt.size > 1_000_000) changedAt.clear(); // rows older than those changes have long been replaced
    },
    /** The pre-signed answer for this certificate of `ca`, if one is held and still valid. */
    answer(ca: string, serial: string): OcspAnswer | undefined {
      const held = entries.valid(serial, ca, deps.clock.now().getTime());
      const certificate = held && responders.get(held.responder);
      if (!held || !certificate) return undefined;
      return { der: wrapOcspResponse(held.bytes, certificate, allocateAnswer), thisUpdate: new Date(held.thisUpdate), nextUpdate: new Date(held.nextUpdate), subjects: [`${ca}:${serial}`], cacheable: true, preproduced: true };
    },
    size: () => entries.size(),
  };
}

export type PresignedResponses = ReturnType<typeof createPresignedResponses>;
