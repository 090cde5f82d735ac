import { sql, type Handle } from './handle.js';

/** A firmware signer: a key on the token and its code-signing certificate (migration 017). */
export interface SignerRow {
  name: string;
  ca: string;
  key_uri: string;
  key_type: string;
  /** firmware: signs releases; tsa: signs RFC 3161 time-stamps. */
  purpose: string;
  two_person: boolean | number;
  serial: string;
  certificate: Buffer;
  not_before: number;
  not_after: number;
  created_by: string;
  created_at: number;
}

/** One signed artifact: recorded in the transaction that audits it, before the signature is returned. */
export interface ReleaseRow {
  id?: number;
  signer: string;
  product: string;
  channel: string;
  version: string;
  digest_algorithm: string;
  digest: string;
  format: string;
  timestamped: boolean | number;
  status: 'pending' | 'signed';
  signature: Buffer | null;
  metadata: string;
  override_reason: string | null;
  requested_by: string;
  approved_by: string | null;
  approved_at: number | null;
  created_at: number;
}

export const insertSigner = async (handle: Handle, row: SignerRow): Promise<void> => void (await sql(handle)('signers').insert(row));
export const findSigner = (handle: Handle, name: string): Promise<SignerRow | undefined> => sql(handle)('signers').where({ name }).first();
export const listSigners = (handle: Handle): Promise<SignerRow[]> => sql(handle)('signers').orderBy('name');

export async function insertRelease(handle: Handle, row: ReleaseRow): Promise<number> {
  const [inserted] = await sql(handle)('releases').insert(row).returning('id');
  return Number(typeof inserted === 'object' ? (inserted as { id: number }).id : inserted);
}

export type ReleaseKey = Pick<ReleaseRow, 'signer' | 'digest_algorithm' | 'digest' | 'format' | 'product' | 'channel'>;
export const findReleaseByKey = (handle: Handle, key: ReleaseKey): Promise<ReleaseRow | undefined> => sql(handle)('releases').where(key).first();
/** Every release of an image, whatever its signer, format or channel. */
export const releasesOfDigest = (handle: Handle, digestAlgorithm: string, digest: string): Promise<ReleaseRow[]> =>
  sql(handle)('releases').where({ digest_algorithm: digestAlgorithm, digest }).orderBy('id');
export const findRelease = (handle: Handle, id: number): Promise<ReleaseRow | undefined> => sql(handle)('releases').where({ id }).first();

/** Every version already signed or asked for on a product's channel (the rollback check compares against each). */
export const versionsSigned = async (handle: Handle, product: string, channel: string, except?: number): Promise<string[]> =>
  (await sql(handle)('releases').where({ product, channel }).whereNot('id', except ?? -1).select('version')).map((r: { version: string }) => r.version);

export function listReleases(handle: Handle, filter: { product?: string; signer?: string; limit: number }): Promise<ReleaseRow[]> {
  const query = sql(handle)('releases').orderBy('id', 'desc').limit(filter.limit);
  if (filter.product) query.where({ product: filter.product });
  if (filter.signer) query.where({ signer: filter.signer });
  return query;
}

/** The newest time-stamping signer (by certificate expiry). */
export const newestTsaSigner = (handle: Handle): Promise<SignerRow | undefined> => sql(handle)('signers').where({ purpose: 'tsa' }).orderBy('not_after', 'desc').first();

export const insertTimestamp = async (handle: Handle, row: { serial: string; gen_time: number; hash_algorithm: string; imprint: string; signer: string; source: string | null }): Promise<void> =>
  void (await sql(handle)('timestamps').insert(row));

/** A pending release gets its signature and approver; false when it was no longer pending. */
export async function completeRelease(handle: Handle, id: number, done: { signature: Buffer; approved_by: string; approved_at: number }): Promise<boolean> {
  return (await sql(handle)('releases').where({ id, status: 'pending' }).update({ ...done, status: 'signed' })) === 1;
}
