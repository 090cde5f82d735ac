import { randomBytes } from 'node:crypto';
import type { AuditLog } from '../audit/log.js';
import type { Db } from '../store/db.js';
import { isUniqueViolation } from '../store/unique-violation.js';
import { HallmarkError } from '../errors.js';

export type EnrollmentRequestStatus = 'pending' | 'approved' | 'rejected' | 'issued';

export interface EnrollmentRequestRow {
  id: string;
  label: string;
  device: string;
  key_id: string;
  subject: string;
  requested_by: string;
  source: string | null;
  status: EnrollmentRequestStatus;
  requested_at: number;
  decided_by: string | null;
  decided_at: number | null;
  reason: string | null;
  certificate_serial: string | null;
}

export const enrollmentRequestView = (row: EnrollmentRequestRow) => ({
  id: row.id,
  label: row.label,
  device: row.device,
  subject: row.subject,
  status: row.status,
  requestedBy: row.requested_by,
  source: row.source,
  requestedAt: new Date(Number(row.requested_at)).toISOString(),
  decidedBy: row.decided_by,
  decidedAt: row.decided_at === null ? null : new Date(Number(row.decided_at)).toISOString(),
  reason: row.reason,
  certificateSerial: row.certificate_serial,
});

/**
 * Where an enrollment on a label with manual approval stands (RFC 7030 §4.2.3): the first request of
 * a device with a key is recorded pending; its repeats find it pending (the client is told to retry),
 * approved (it may be issued now), rejected, or issued already.
 */
export async function enrollmentDecision(deps: { db: Db; audit: AuditLog }, request: { label: string; device: string; keyId: string; subject: string; actor: string; source?: string; now: Date }): Promise<EnrollmentRequestRow> {
  const where = { label: request.label, device: request.device, key_id: request.keyId };
  const found = (await deps.db('enrollment_requests').where(where).first()) as EnrollmentRequestRow | undefined;
  if (found) return found;
  const row: EnrollmentRequestRow = { id: randomBytes(8).toString('hex'), ...where, subject: request.subject.slice(0, 512), requested_by: request.actor, source: request.source ?? null, status: 'pending', requested_at: request.now.getTime(), decided_by: null, decided_at: null, reason: null, certificate_serial: null };
  try {
    await deps.db.transaction(async (trx) => {
      await trx('enrollment_requests').insert(row);
      await deps.audit.recordIn(trx, { actor: request.actor, action: 'enrollment.request', target: row.id, outcome: 'pending', source: request.source, details: { label: request.label, device: request.device, subject: row.subject } });
    });
  } catch (e) {
    // The same request twice at once: the other recorded it.
    if (!isUniqueViolation(e)) throw e;
    return (await deps.db('enrollment_requests').where(where).first()) as EnrollmentRequestRow;
  }
  return row;
}

/** An operator's decision on a pending request; audited. */
export async function decideEnrollment(deps: { db: Db; audit: AuditLog }, input: { id: string; approve: boolean; reason?: string; actor: string; source?: string; now: Date }): Promise<EnrollmentRequestRow> {
  return deps.db.transaction(async (trx) => {
    const row = (await trx('enrollment_requests').where({ id: input.id }).first()) as EnrollmentRequestRow | undefined;
    if (!row) throw new HallmarkError('not_found', `no enrollment request ${input.id}; list them with: hallmark enrollment list`, 404);
    if (row.status !== 'pending') throw new HallmarkError('already_decided', `enrollment request ${input.id} is ${row.status} already`, 409);
    const decided = { status: input.approve ? 'approved' : 'rejected', decided_by: input.actor, decided_at: input.now.getTime(), reason: input.reason?.slice(0, 512) ?? null };
    // Compare-and-set: two operators deciding at once, one wins.
    if ((await trx('enrollment_requests').where({ id: input.id, status: 'pending' }).update(decided)) !== 1) throw new HallmarkError('already_decided', `enrollment request ${input.id} was decided meanwhile`, 409);
    await deps.audit.recordIn(trx, { actor: input.actor, action: input.approve ? 'enrollment.approve' : 'enrollment.reject', target: input.id, outcome: 'success', source: input.source, details: { label: row.label, device: row.device, reason: input.reason } });
    return { ...row, ...decided } as EnrollmentRequestRow;
  });
}

export async function markEnrollmentIssued(db: Db, id: string, serial: string): Promise<void> {
  await db('enrollment_requests').where({ id, status: 'approved' }).update({ status: 'issued', certificate_serial: serial });
}

export async function listEnrollmentRequests(db: Db, status?: EnrollmentRequestStatus): Promise<EnrollmentRequestRow[]> {
  const q = db('enrollment_requests').select('*').orderBy('requested_at');
  return (status ? q.where({ status }) : q).limit(1000);
}
