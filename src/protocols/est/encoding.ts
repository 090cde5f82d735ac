import type { ServerResponse } from 'node:http';
import { HallmarkError } from '../../base/errors.js';
import { base64InLines } from '../../x509/pem.js';

/** RFC 8951 §3.1: base64 with any line breaks and whitespace; Content-Transfer-Encoding is ignored. */
export function decodeBase64Body(body: unknown): Uint8Array {
  const text = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('latin1') : '';
  const compact = text.replace(/[\s]+/g, '');
  if (!compact) throw new HallmarkError('empty_body', 'the request body is empty; send a base64 PKCS#10 request', 400);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact) || compact.length % 4 === 1) throw new HallmarkError('invalid_base64', 'the request body is not base64 (RFC 7030 §4.2.1, RFC 8951)', 400);
  return new Uint8Array(Buffer.from(compact, 'base64'));
}

/** Base64 in lines of 64 with CRLF, as EST answers are written (RFC 7030 §4.1.3, RFC 8951 §3.1). */
export const base64Lines = (der: Uint8Array): string => base64InLines(der, '\r\n');

/** A 200 with exactly these headers and an ASCII body (no charset: no EST media type has one). */
export function sendAsIs(res: ServerResponse, headers: Record<string, string>, text: string): void {
  const body = Buffer.from(text, 'latin1');
  res.writeHead(200, { ...headers, 'Content-Length': body.length });
  res.end(body);
}

export const sendBase64 = (res: ServerResponse, contentType: string, der: Uint8Array): void => sendAsIs(res, { 'Content-Type': contentType, 'Content-Transfer-Encoding': 'base64' }, base64Lines(der));

/** certs-only PKCS#7, base64 (RFC 7030 §4.1.3 and §4.2.3). */
export const sendPkcs7 = (res: ServerResponse, pkcs7: Uint8Array): void => sendBase64(res, 'application/pkcs7-mime; smime-type=certs-only', pkcs7);
