import { isoTime } from '../base/iso-time.js';
import { inTransaction } from '../store/handle.js';
import { randomBytes } from 'node:crypto';
import type { AuditLog } from '../audit/log.js';
import type { Store } from '../store/handle.js';
import { isUniqueViolation } from '../store/unique-violation.js';
import { HallmarkError } from '../base/errors.js';
import { decideEnrollmentRequest, findEnrollmentRequest, insertEnrollmentRequest, type EnrollmentRequestRow } from '../store/enrollments.js';

export { listEnrollmentRequests, markEnrollmentIssued, type EnrollmentRequestRow, type EnrollmentRequestStatus } from '../store/enrollments.js';



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
  decidedAt: isoTime(row.decided_at),
  reason: row.reason,
  certificateSerial: row.certificate_serial,
});

/**
 * Where an enrollment on a label with manual approval stands (RFC 7030 §4.2.3): the first request of
 * a device with a key is recorded pending; its repeats find it pending (the client is told to retry),
 * approved (it may be issued now), rejected, or issued already.
 */
export async function enrollmentDecision(deps: { store: Store; audit: AuditLog }, request: { label: string; device: string; keyId: string; subject: string; actor: string; source?: string; now: Date }): Promise<EnrollmentRequestRow> {
  const where = { label: request.label, device: request.device, key_id: request.keyId };
  const found = await findEnrollmentRequest(deps.store, where);
  if (found) return found;
  const row: EnrollmentRequestRow = { id: randomBytes(8).toString('hex'), ...where, subject: request.subject.slice(0, 512), requested_by: request.actor, source: request.source ?? null, status: 'pending', requested_at: request.now.getTime(), decided_by: null, decided_at: null, reason: null, certificate_serial: null };
  try {
    await inTransaction(deps.store, async (trx) => {
      await insertEnrollmentRequest(trx, row);
      await deps.audit.recordIn(trx, { actor: request.actor, action: 'enrollment.request', target: row.id, outcome: 'pending', source: request.source, details: { label: request.label, device: request.device, subject: row.subject } });
    });
  } catch (e) {
    // The same request twice at once: the other recorded it.
    if (!isUniqueViolation(e)) throw e;
    return (await findEnrollmentRequest(deps.store, where))!;
  }
  return row;
}

/** An operator's decision on a pending request; audited. */
export async function decideEnrollment(deps: { store: Store; audit: AuditLog }, input: { id: string; approve: boolean; reason?: string; actor: string; source?: string; now: Date }): Promise<EnrollmentRequestRow> {
  return inTransaction(deps.store, async (trx) => {
    const row = await findEnrollmentRequest(trx, { id: input.id });
    if (!row) throw new HallmarkError('not_found', `no enrollment request ${input.id}; list them with: hallmark enrollment list`, 404);
    if (row.status !== 'pending') throw new HallmarkError('already_decided', `enrollment request ${input.id} is ${row.status} already`, 409);
    const decided = { status: input.approve ? ('approved' as const) : ('rejected' as const), decided_by: input.actor, decided_at: input.now.getTime(), reason: input.reason?.slice(0, 512) ?? null };
    // Compare-and-set: two operators deciding at once, one wins.
    if (!(await decideEnrollmentRequest(trx, input.id, decided))) throw new HallmarkError('already_decided', `enrollment request ${input.id} was decided meanwhile`, 409);
    await deps.audit.recordIn(trx, { actor: input.actor, action: input.approve ? 'enrollment.approve' : 'enrollment.reject', target: input.id, outcome: 'success', source: input.source, details: { label: row.label, device: row.device, reason: input.reason } });
    return { ...row, ...decided };
  });
}

