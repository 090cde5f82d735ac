import type { Extension } from '@peculiar/asn1-x509';
import type { Profile } from '../profiles/schema.js';
import type { Draft } from '../profiles/rules/index.js';
import {
  authorityInfoAccess,
  authorityKeyIdentifier,
  basicConstraints,
  crlDistributionPoint,
  extendedKeyUsage,
  keyUsage,
  ocspNoCheck,
  subjectAltName,
  subjectKeyIdentifier,
} from '../x509/extensions.js';
import { caIssuersUrl, crlUrl, ocspUrl } from './urls.js';

export interface LeafExtensionInput {
  profile: Profile;
  draft: Draft;
  subjectKeyId: Uint8Array;
  issuerName: string;
  issuerKeyId: Uint8Array;
  publicBaseUrl: string;
}

/** The extensions of an end-entity certificate, all from the profile; nothing is copied from a CSR. */
export function leafExtensions(input: LeafExtensionInput): Extension[] {
  const { profile, draft } = input;
  const extensions = [basicConstraints(false), keyUsage(profile.keyUsage)];
  if (profile.extendedKeyUsage.length) extensions.push(extendedKeyUsage(profile.extendedKeyUsage));
  extensions.push(subjectKeyIdentifier(input.subjectKeyId), authorityKeyIdentifier(input.issuerKeyId));
  const { dns, uri, ip, email } = draft.names;
  if (dns.length + uri.length + ip.length + email.length > 0) extensions.push(subjectAltName(draft.names, draft.subject.length === 0));
  if (profile.revocationPointers) {
    extensions.push(
      crlDistributionPoint(crlUrl(input.publicBaseUrl, input.issuerName)),
      authorityInfoAccess(ocspUrl(input.publicBaseUrl), caIssuersUrl(input.publicBaseUrl, input.issuerName)),
    );
  }
  if (profile.ocspNoCheck) extensions.push(ocspNoCheck());
  return extensions;
}
