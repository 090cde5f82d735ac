import type { Response } from 'express';
import { HallmarkError } from '../../errors.js';

/** RFC 8951 §3.1: base64 with any line breaks and whitespace; Content-Transfer-Encoding is ignored. */
export function decodeBase64Body(body: unknown): Uint8Array {
  const text = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('latin1') : '';
  const compact = text.replace(/[\s]+/g, '');
  if (!compact) throw new HallmarkError('empty_body', 'the request body is empty; send a base64 PKCS#10 request', 400);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact) || compact.length % 4 === 1) throw new HallmarkError('invalid_base64', 'the request body is not base64 (RFC 7030 §4.2.1, RFC 8951)', 400);
  return new Uint8Array(Buffer.from(compact, 'base64'));
}

export const base64Lines = (der: Uint8Array) => (Buffer.from(der).toString('base64').match(/.{1,64}/g) ?? []).join('\r\n') + '\r\n';

/** certs-only PKCS#7, base64 (RFC 7030 §4.1.3 and §4.2.3). */
export function sendPkcs7(res: Response, pkcs7: Uint8Array): void {
  res.status(200).set({ 'Content-Type': 'application/pkcs7-mime; smime-type=certs-only', 'Content-Transfer-Encoding': 'base64' }).send(base64Lines(pkcs7));
}
