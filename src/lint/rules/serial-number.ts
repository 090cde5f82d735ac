import type { CertificateSubject, LintRule } from '../types.js';

/** RFC 5280 §4.1.2.2: a positive integer, not zero, at most 20 octets, minimally encoded (X.690 §8.3.2). */
export const serialNumber: LintRule<CertificateSubject> = {
  name: 'serial-number',
  citation: 'RFC 5280 §4.1.2.2',
  appliesTo: 'certificate',
  check: ({ raw }) => serialProblems(raw.serial),
};

/** The serial-number rule on the INTEGER's content octets (also run per certificate by the issuance hot path). */
export function serialProblems(bytes: Uint8Array): string[] {
  const problems: string[] = [];
  if (bytes.length > 20) problems.push(`serial is ${bytes.length} octets, more than 20`);
  if (bytes[0]! & 0x80) problems.push('serial is negative');
  if (bytes.every((b) => b === 0)) problems.push('serial is zero');
  if (bytes.length > 1 && bytes[0] === 0 && !(bytes[1]! & 0x80)) problems.push('serial is not minimally encoded');
  return problems;
}
