import { sql, type Handle } from './handle.js';

/** Enrollment held for an operator's decision (RFC 7030 §4.2.3), and renewals an operator allowed early. */

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

/** The request for this label, device and key (one per key: repeating it finds the same). */
export const findEnrollmentRequest = (handle: Handle, where: { label: string; device: string; key_id: string } | { id: string }): Promise<EnrollmentRequestRow | undefined> =>
  sql(handle)('enrollment_requests').where(where).first();

/** Records a request; the same label, device and key twice is a unique violation. */
export const insertEnrollmentRequest = async (handle: Handle, row: EnrollmentRequestRow): Promise<void> => void (await sql(handle)('enrollment_requests').insert(row));

/** Records a pending request's decision; false when it was decided meanwhile (compare-and-set). */
export const decideEnrollmentRequest = async (handle: Handle, id: string, decision: Pick<EnrollmentRequestRow, 'status' | 'decided_by' | 'decided_at' | 'reason'>): Promise<boolean> =>
  (await sql(handle)('enrollment_requests').where({ id, status: 'pending' }).update(decision)) === 1;

export const markEnrollmentIssued = async (handle: Handle, id: string, serial: string): Promise<void> =>
  void (await sql(handle)('enrollment_requests').where({ id, status: 'approved' }).update({ status: 'issued', certificate_serial: serial }));

/** Requests in the order they came, at most 1,000; one status when given. */
export function listEnrollmentRequests(handle: Handle, status?: EnrollmentRequestStatus): Promise<EnrollmentRequestRow[]> {
  const q = sql(handle)('enrollment_requests').select('*').orderBy('requested_at');
  return (status ? q.where({ status }) : q).limit(1000);
}

/** An operator's allowance for one certificate to renew before its renewal window; a second grant replaces the first. */
export const grantRenewal = async (handle: Handle, grant: { serial: string; granted_by: string; granted_at: number }): Promise<void> =>
  void (await sql(handle)('renewal_grants').insert(grant).onConflict('serial').merge());

export const renewalGranted = async (handle: Handle, serial: string): Promise<boolean> => Boolean(await sql(handle)('renewal_grants').where({ serial }).first('serial'));

/** A grant is used once. */
export const spendRenewalGrant = async (handle: Handle, serial: string): Promise<void> => void (await sql(handle)('renewal_grants').where({ serial }).del());
