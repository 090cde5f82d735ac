import { AsnConvert } from '@peculiar/asn1-schema';
import { concatBytes } from '../x509/der.js';
import { rawSubject } from '../x509/certificate-fields.js';
import { keyIdOfSpki, subjectAltName } from '../x509/extensions.js';
import { algorithmIdentifier } from '../x509/signature-algorithms.js';
import { spliceTbs, subjectAltNameExtension, type TbsConstants } from '../x509/tbs-splice.js';
import { generalNameProblems, sanSyntax } from '../lint/rules/san-syntax.js';
import { serialNumber, serialProblems } from '../lint/rules/serial-number.js';
import { subjectOrSan, subjectOrSanProblems } from '../lint/rules/subject-or-san.js';
import { validityProblems, validityWithinIssuer } from '../lint/rules/validity-within-issuer.js';
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

/** The template of a profile under one issuer for one CRL shard (null: the CA's whole CRL). */
export function leafTemplate(issuer: IssuerCa, profile: Profile, publicBaseUrl: string, crlShard: number | null): LeafTemplate {
  let byProfile = cache.get(issuer);
  if (!byProfile) cache.set(issuer, (byProfile = new WeakMap()));
  let byUrl = byProfile.get(profile);
  if (!byUrl) byProfile.set(profile, (byUrl = new Map()));
  const key = `${crlShard ?? ''} ${publicBaseUrl}`;
  let template = byUrl.get(key);
  if (!template) {
    const parts = constantLeafExtensions({ profile, issuerName: issuer.name, issuerKeyId: issuer.ski, publicBaseUrl, crlShard });
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
    byUrl.set(key, template);
  }
  return template;
}

export function buildLeafTbs(template: LeafTemplate, draft: Draft, spkiDer: Uint8Array, serial: Uint8Array): Uint8Array {
  const { dns, uri, ip, email } = draft.names;
  const modules = draft.hardwareModules ?? [];
  const hasNames = dns.length + uri.length + ip.length + email.length + modules.length > 0;
  const critical = draft.subject.length === 0;
  // The spliced encoding covers the common names; otherNames (a TPM's) go through the ASN.1 encoder.
  const san = hasNames ? ((modules.length ? undefined : subjectAltNameExtension(draft.names, critical)) ?? der(subjectAltName(draft.names, critical, modules))) : undefined;
  return spliceTbs(template.constants, {
    serial,
    notBefore: draft.notBefore,
    notAfter: draft.notAfter,
    subject: draft.subject,
    spki: spkiDer,
    subjectKeyId: keyIdOfSpki(spkiDer),
    subjectAltName: san,
  });
}

/** The findings of one lint rule, from the problems its shared check function reported. */
const findingsOf = (rule: { name: string; citation: string }, problems: string[]): Finding[] => problems.map((message) => ({ rule: rule.name, citation: rule.citation, message }));

/**
 * The lint rules that concern what varies between certificates of one template (the rest was linted
 * on the template's first certificate): serial, validity, subject-or-SAN, SAN syntax — the same
 * check functions the full rules run, on the draft instead of a parsed TBS. The SAN is critical
 * exactly when the subject is empty (buildLeafTbs), and present exactly when the draft has names.
 */
export function lintLeafFields(draft: Draft, serial: Uint8Array, issuer: IssuerCa): Finding[] {
  const { dns, uri, ip, email } = draft.names;
  const names = [...dns.map((dNSName) => ({ dNSName })), ...ip.map((iPAddress) => ({ iPAddress })), ...uri.map((uniformResourceIdentifier) => ({ uniformResourceIdentifier })), ...email.map((rfc822Name) => ({ rfc822Name }))];
  const subjectEmpty = draft.subject.length === 0;
  return [
    ...findingsOf(serialNumber, serialProblems(serial)),
    ...findingsOf(validityWithinIssuer, validityProblems(draft.notBefore, draft.notAfter, issuer)),
    ...findingsOf(subjectOrSan, subjectOrSanProblems(subjectEmpty, names.length || draft.hardwareModules?.length ? { critical: subjectEmpty } : undefined)),
    ...findingsOf(sanSyntax, names.flatMap(generalNameProblems)),
  ];
}
