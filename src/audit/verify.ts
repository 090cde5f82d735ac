import { createPublicKey, verify as verifySignature } from 'node:crypto';
import { auditCheckpoints, auditPage, pendingAuditState, readAuditHead } from '../store/audit.js';
import type { Handle } from '../store/handle.js';
import type { Signer } from '../keys/key-store.js';
import { entryHash } from './log.js';
import { checkpointMessage } from './checkpoint.js';

export interface AuditVerification {
  ok: boolean;
  entries: number;
  /** One line per problem, naming the entries concerned. */
  problems: string[];
  checkpoints: { verified: number; failed: number; skipped: number };
  /** Entries appended but not chained yet (audit_pending): not covered by this verification. */
  pending: { count: number; oldestAt: string | null };
}

const ZERO = '0'.repeat(64);
const PAGE = 5000;

/**
 * Walks the chain in order of seq and recomputes every hash. An edited entry fails its own hash;
 * a deleted one leaves a gap in seq and a broken link; an inserted or reordered one fails its hash
 * (seq is hashed) or its link; truncation shows against the head row; a rewrite of the whole chain
 * shows against the signed checkpoints.
 */
export async function verifyAuditChain(store: Handle, checkpointSigner?: Signer): Promise<AuditVerification> {
  const problems: string[] = [];
  const hashAt = new Map<number, string>();
  const checkpoints = await auditCheckpoints(store);
  const wanted = new Set(checkpoints.map((c) => Number(c.seq)));
  let expectedSeq = 1;
  let prevHash = ZERO;
  let entries = 0;
  let lastSeq = 0;
  for (let after = 0; ; ) {
    const rows = await auditPage(store, after, PAGE);
    if (!rows.length) break;
    for (const row of rows) {
      const seq = Number(row.seq);
      const { hash, ...content } = row;
      const recomputed = entryHash({ ...content, seq, at: Number(row.at) });
      if (seq > expectedSeq) problems.push(seq - 1 === expectedSeq ? `entry ${expectedSeq} is missing (deleted)` : `entries ${expectedSeq} to ${seq - 1} are missing (deleted)`);
      if (recomputed !== hash) problems.push(`entry ${seq} does not match its hash (edited, inserted or reordered)`);
      else if (row.prev_hash !== prevHash) problems.push(`entry ${seq} does not link to the entry before it (an entry before it was removed, replaced or moved)`);
      if (wanted.has(seq)) hashAt.set(seq, hash);
      prevHash = hash;
      expectedSeq = seq + 1;
      lastSeq = seq;
      entries++;
    }
    after = lastSeq;
  }
  const head = await readAuditHead(store);
  if (head && Number(head.seq) !== lastSeq) problems.push(`the log ends at entry ${lastSeq} but its head says ${head.seq}: entries were deleted from the end`);
  else if (head && head.hash !== prevHash && lastSeq > 0) problems.push(`the last entry does not match the head hash`);

  const result = { verified: 0, failed: 0, skipped: 0 };
  const publicKey = checkpointSigner ? createPublicKey({ key: Buffer.from(checkpointSigner.spki), format: 'der', type: 'spki' }) : undefined;
  for (const cp of checkpoints) {
    const seq = Number(cp.seq);
    if (hashAt.get(seq) !== cp.hash) {
      result.failed++;
      problems.push(`checkpoint at entry ${seq} does not match the log (the log was rewritten up to there)`);
      continue;
    }
    if (!publicKey) {
      result.skipped++;
      continue;
    }
    const message = checkpointMessage(seq, cp.hash, Number(cp.at));
    const hash = checkpointSigner!.algorithm.hash;
    if (verifySignature(hash, message, publicKey, cp.signature)) result.verified++;
    else {
      result.failed++;
      problems.push(`checkpoint at entry ${seq} has an invalid signature`);
    }
  }
  const pending = await pendingAuditState(store);
  return { ok: problems.length === 0, entries, problems, checkpoints: result, pending: { count: pending.count, oldestAt: pending.oldestAt === null ? null : new Date(pending.oldestAt).toISOString() } };
}
