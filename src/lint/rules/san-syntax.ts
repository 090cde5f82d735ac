import { SubjectAlternativeName, id_ce_subjectAltName } from '@peculiar/asn1-x509';
import type { CertificateSubject, LintRule } from '../types.js';
import { extension } from './ext.js';

const LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

function dnsProblem(name: string): string | undefined {
  const host = name.startsWith('*.') ? name.slice(2) : name;
  if (!host || host.length > 253) return 'is empty or longer than 253 characters';
  if (host.endsWith('.')) return 'ends with a dot';
  if (!host.split('.').every((label) => LABEL.test(label))) return 'has a label that is not letters, digits and inner hyphens of 1–63 characters';
  return undefined;
}

/**
 * RFC 5280 §4.2.1.6: names are well formed — DNS names in preferred name syntax (RFC 1034 §3.5),
 * URIs with a scheme (RFC 3986), IP addresses of 4 or 16 octets, mailboxes with an "@" — and the
 * extension is not empty.
 */
export const sanSyntax: LintRule<CertificateSubject> = {
  name: 'san-syntax',
  citation: 'RFC 5280 §4.2.1.6',
  appliesTo: 'certificate',
  check({ tbs }) {
    const san = extension(tbs.extensions ?? [], id_ce_subjectAltName, SubjectAlternativeName);
    if (!san) return [];
    if (san.value.length === 0) return ['subjectAltName is present but empty'];
    return san.value.flatMap(generalNameProblems);
  },
};

/** One GeneralName (as @peculiar/asn1-x509 reads it) against the rule; also run on drafts by the issuance hot path. */
export function generalNameProblems(name: { dNSName?: string; uniformResourceIdentifier?: string; iPAddress?: string; rfc822Name?: string }): string[] {
  if (name.dNSName !== undefined) {
    const problem = dnsProblem(name.dNSName);
    return problem ? [`DNS name "${name.dNSName}" ${problem}`] : [];
  }
  if (name.uniformResourceIdentifier !== undefined) {
    return /^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(name.uniformResourceIdentifier) ? [] : [`URI "${name.uniformResourceIdentifier}" has no scheme or contains spaces`];
  }
  if (name.iPAddress !== undefined) {
    return name.iPAddress && (name.iPAddress.includes('.') || name.iPAddress.includes(':')) ? [] : [`IP address "${name.iPAddress}" is not 4 or 16 octets`];
  }
  if (name.rfc822Name !== undefined) return /^[^@\s]+@[^@\s]+$/.test(name.rfc822Name) ? [] : [`mailbox "${name.rfc822Name}" is not local@domain`];
  return [];
}
