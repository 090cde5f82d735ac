/** PEM (RFC 7468) with the labels OpenSSL and Mosquitto expect. */
export function toPem(der: Uint8Array, label: 'CERTIFICATE' | 'X509 CRL' | 'CERTIFICATE REQUEST' | 'PRIVATE KEY' | 'PUBLIC KEY'): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Every PEM block with one of `labels`, decoded; text outside the blocks is ignored (RFC 7468 §2). */
export function fromPemBlocks(text: string, labels: string[]): Uint8Array[] {
  const blocks: Uint8Array[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (const m of text.matchAll(re)) {
    if (!labels.includes(m[1]!)) continue;
    const body = m[2]!.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw new Error(`PEM ${m[1]} block is not valid base64`);
    blocks.push(new Uint8Array(Buffer.from(body, 'base64')));
  }
  return blocks;
}
