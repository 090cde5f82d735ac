import { createHash } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { concatBytes } from '../x509/der.js';
import { rawSubject } from '../x509/certificate-fields.js';
import { subjectAltName } from '../x509/extensions.js';
import { algorithmIdentifier } from '../x509/signature-algorithms.js';
import { encodeName, spliceTbs, subjectAltNameExtension, type TbsConstants } from '../x509/tbs-splice.js';
import { children, content, readTlv } from '../x509/der-reader.js';
import { dnsProblem } from '../lint/rules/san-syntax.js';
import type { Finding } from '../lint/index.js';
import type { Profile } from '../profiles/schema.js';
import type { Draft } from '../profiles/rules/index.js';
import type { IssuerCa } from './issuer.js';
import { constantLeafExtensions } from './leaf-extensions.js';

/**
 * A profile under one issuer generation, encoded once: the constant parts of its TBSCertificate, and
 * how many certificates it has produced (the full lint runs on the first and on every 1024th; the
 * others get the per-certificate checks of lintLeafFields, since every other byte is the same).
 */
export interface LeafTemplate {
  constants: TbsConstants;
  issued: number;
}

export const FULL_LINT_EVERY = 1024;

const cache = new WeakMap<IssuerCa, WeakMap<Profile, Map<string, LeafTemplate>>>();
const der = (value: unknown) => new Uint8Array(AsnConvert.serialize(value));

export function leafTemplate(issuer: IssuerCa, profile: Profile, publicBaseUrl: string): LeafTemplate {
  let byProfile = cache.get(issuer);
  if (!byProfile) cache.set(issuer, (byProfile = new WeakMap()));
  let byUrl = byProfile.get(profile);
  if (!byUrl) byProfile.set(profile, (byUrl = new Map()));
  let template = byUrl.get(publicBaseUrl);
  if (!template) {
    const parts = constantLeafExtensions({ profile, issuerName: issuer.name, issuerKeyId: issuer.ski, publicBaseUrl });
    template = {
      constants: {
        signatureAlgorithm: der(algorithmIdentifier(issuer.signer.algorithm)),
        // The issuer field is the issuer certificate's subject byte for byte (RFC 5280 §7.1).
        issuerName: rawSubject(issuer.certificate),
        extensionsHead: concatBytes(parts.head.map(der)),
        authorityKeyId: der(parts.authorityKeyId),
        extensionsTail: concatBytes(parts.tail.map(der)),
      },
      issued: 0,
    };
    byUrl.set(publicBaseUrl, template);
  }
  return template;
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING contents. */
export function keyIdOfSpki(spkiDer: Uint8Array): Uint8Array {
  const [, bits] = children(spkiDer, readTlv(spkiDer, 0));
  return new Uint8Array(createHash('sha1').update(content(spkiDer, bits!).subarray(1)).digest());
}

export function buildLeafTbs(template: LeafTemplate, draft: Draft, spkiDer: Uint8Array, serial: Uint8Array): Uint8Array {
  const { dns, uri, ip, email } = draft.names;
  const hasNames = dns.length + uri.length + ip.length + email.length > 0;
  const critical = draft.subject.length === 0;
  const san = hasNames ? (subjectAltNameExtension(draft.names, critical) ?? der(subjectAltName(draft.names, critical))) : undefined;
  return spliceTbs(template.constants, {
    serial,
    notBefore: draft.notBefore,
    notAfter: draft.notAfter,
    subjectName: encodeName(draft.subject),
    spki: spkiDer,
    subjectKeyId: keyIdOfSpki(spkiDer),
    subjectAltName: san,
  });
}

const finding = (rule: string, citation: string, message: string): Finding => ({ rule, citation, message });

/**
 * The lint rules that concern what varies between certificates of one template (the rest was linted
 * on the template's first certificate): serial, validity, subject-or-SAN, SAN syntax. Same rule names
 * and citations as src/lint.
 */
export function lintLeafFields(draft: Draft, serial: Uint8Array, issuer: IssuerCa): Finding[] {
  const findings: Finding[] = [];
  if (serial.length > 20 || serial[0]! & 0x80 || serial.every((b) => b === 0)) findings.push(finding('serial-number', 'RFC 5280 §4.1.2.2', 'serial is not a positive integer of at most 20 octets'));
  if (draft.notAfter.getTime() <= draft.notBefore.getTime()) findings.push(finding('validity-within-issuer', 'RFC 5280 §4.1.2.5', 'notAfter is not after notBefore'));
  if (draft.notBefore < issuer.notBefore || draft.notAfter > issuer.notAfter) findings.push(finding('validity-within-issuer', 'RFC 5280 §4.1.2.5', 'validity is not inside the issuer’s'));
  const { dns, uri, ip, email } = draft.names;
  if (!draft.subject.length && dns.length + uri.length + ip.length + email.length === 0) findings.push(finding('subject-or-san', 'RFC 5280 §4.1.2.6, §4.2.1.6', 'empty subject and no subjectAltName'));
  for (const name of dns) {
    const problem = dnsProblem(name);
    if (problem) findings.push(finding('san-syntax', 'RFC 5280 §4.2.1.6', `DNS name "${name}" ${problem}`));
  }
  for (const name of uri) if (!/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(name)) findings.push(finding('san-syntax', 'RFC 5280 §4.2.1.6', `URI "${name}" has no scheme or contains spaces`));
  for (const name of email) if (!/^[^@\s]+@[^@\s]+$/.test(name)) findings.push(finding('san-syntax', 'RFC 5280 §4.2.1.6', `mailbox "${name}" is not local@domain`));
  return findings;
}
