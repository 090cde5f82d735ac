import { sql, type Handle } from './handle.js';

/** Delegated OCSP responders (RFC 6960 §4.2.2.2): each one's certificate and the token key it signs with. */
export interface ResponderRow {
  serial: string;
  ca: string;
  key_uri: string;
  certificate: Buffer;
  not_before: number;
  not_after: number;
  created_at: number;
}

export const insertResponder = async (handle: Handle, row: ResponderRow): Promise<void> => void (await sql(handle)('ocsp_responders').insert(row));

/** The responder of `ca` that expires last. */
export const newestResponder = (handle: Handle, ca: string): Promise<ResponderRow | undefined> => sql(handle)('ocsp_responders').where({ ca }).orderBy('not_after', 'desc').first();

/** Every responder certificate by serial (a pre-signed response names the one that signed it). */
export const allResponderCertificates = (handle: Handle): Promise<Pick<ResponderRow, 'serial' | 'certificate'>[]> => sql(handle)('ocsp_responders').select('serial', 'certificate');
