/** Base64 in lines of 64, each ended by `eol` (PEM uses LF, RFC 7468 §2; EST answers CRLF). */
export function base64InLines(der: Uint8Array, eol: string): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  let out = '';
  for (let at = 0; at < b64.length; at += 64) out += `${b64.slice(at, at + 64)}${eol}`;
  return out;
}

/** PEM (RFC 7468) with the labels OpenSSL and Mosquitto expect. */
export function toPem(der: Uint8Array, label: 'CERTIFICATE' | 'X509 CRL' | 'CERTIFICATE REQUEST' | 'PRIVATE KEY' | 'PUBLIC KEY'): string {
  return `-----BEGIN ${label}-----\n${base64InLines(der, '\n')}-----END ${label}-----\n`;
}

const LABEL = /^[A-Z0-9 ]+$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Every PEM block with one of `labels`, decoded; text outside the blocks is ignored (RFC 7468 §2).
 * A block runs from "-----BEGIN L-----" to the next "-----END L-----" with the same label.
 */
export function fromPemBlocks(text: string, labels: string[]): Uint8Array[] {
  const blocks: Uint8Array[] = [];
  for (let at = text.indexOf('-----BEGIN '); at >= 0; at = text.indexOf('-----BEGIN ', at)) {
    const labelStart = at + 11;
    const labelEnd = text.indexOf('-----', labelStart);
    if (labelEnd < 0) break;
    const label = text.slice(labelStart, labelEnd);
    const endMarker = `-----END ${label}-----`;
    const end = LABEL.test(label) ? text.indexOf(endMarker, labelEnd + 5) : -1;
    if (end < 0) {
      at = labelStart;
      continue;
    }
    at = end + endMarker.length;
    if (!labels.includes(label)) continue;
    const body = text.slice(labelEnd + 5, end).replace(/\s+/g, '');
    if (!BASE64.test(body)) throw new Error(`PEM ${label} block is not valid base64`);
    blocks.push(new Uint8Array(Buffer.from(body, 'base64')));
  }
  return blocks;
}
