/**
 * PKCS#11 URIs (RFC 7512) name keys on a token: `pkcs11:token=hallmark;object=ca-issuing;id=%01%02`.
 * Only the path attributes Hallmark needs are understood; others are kept but ignored.
 */
export interface KeyUri {
  token: string;
  object: string;
  /** CKA_ID, raw bytes. */
  id?: Uint8Array;
}

const pctEncode = (bytes: Uint8Array) => Array.from(bytes, (b) => '%' + b.toString(16).padStart(2, '0')).join('');

// RFC 7512 §2.3: pk11-pchar allows unreserved characters plus a few sub-delims; encode anything else.
const encodeText = (text: string) =>
  Array.from(new TextEncoder().encode(text), (b) =>
    /[A-Za-z0-9\-._~:[\]@!$'()*+,=&]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : '%' + b.toString(16).padStart(2, '0'),
  ).join('');

function decode(value: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < value.length; i++) {
    if (value[i] === '%') {
      const hex = value.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new Error(`bad percent-encoding in PKCS#11 URI near "${value.slice(i)}"`);
      out.push(parseInt(hex, 16));
      i += 2;
    } else out.push(...new TextEncoder().encode(value[i]!));
  }
  return Uint8Array.from(out);
}

export function formatKeyUri(uri: KeyUri): string {
  const parts = [`token=${encodeText(uri.token)}`, `object=${encodeText(uri.object)}`];
  if (uri.id) parts.push(`id=${pctEncode(uri.id)}`);
  return `pkcs11:${parts.join(';')}`;
}

export function parseKeyUri(text: string): KeyUri {
  if (!text.startsWith('pkcs11:')) throw new Error(`not a PKCS#11 URI: "${text}"`);
  const path = text.slice('pkcs11:'.length).split('?')[0]!;
  const attrs = new Map<string, Uint8Array>();
  for (const part of path.split(';').filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq < 1) throw new Error(`malformed PKCS#11 URI attribute "${part}"`);
    attrs.set(part.slice(0, eq), decode(part.slice(eq + 1)));
  }
  const text8 = (b: Uint8Array | undefined) => (b ? new TextDecoder().decode(b) : undefined);
  const token = text8(attrs.get('token'));
  const object = text8(attrs.get('object'));
  if (!token || !object) throw new Error(`PKCS#11 URI needs token= and object=: "${text}"`);
  return { token, object, id: attrs.get('id') };
}
