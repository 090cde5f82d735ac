import { HallmarkError } from '../base/errors.js';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** A request field that carries bytes as base64 (whitespace ignored); anything else is a 400 naming the field. */
export function base64Field(field: string, value: string): Uint8Array {
  const compact = value.replace(/\s+/g, '');
  if (!compact || compact.length % 4 === 1 || !BASE64.test(compact)) throw new HallmarkError('invalid_request', `${field} is not base64`, 400);
  return new Uint8Array(Buffer.from(compact, 'base64'));
}
