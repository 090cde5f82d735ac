import { AsnConvert } from '@peculiar/asn1-schema';
import type { Extension } from '@peculiar/asn1-x509';

/** The extension with `oid` parsed as `type`, or undefined when absent. */
export function extension<T>(extensions: Extension[], oid: string, type: new () => T): { critical: boolean; value: T } | undefined {
  const ext = extensions.find((e) => e.extnID === oid);
  return ext ? { critical: ext.critical, value: AsnConvert.parse(ext.extnValue, type) } : undefined;
}

export const hex = (b: ArrayBuffer | Uint8Array) => Buffer.from(b instanceof Uint8Array ? b : new Uint8Array(b)).toString('hex');
export const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
