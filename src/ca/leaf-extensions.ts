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
} from '../x509/extensions.js';
import { caIssuersUrl, ocspUrl } from './urls.js';
import { scopeUrl } from './crl-scope.js';

export interface LeafExtensionInput {
  profile: Profile;
  draft: Draft;
  subjectKeyId: Uint8Array;
  issuerName: string;
  issuerKeyId: Uint8Array;
  publicBaseUrl: string;
  /** The CRL shard the distribution point names (ca/crl-scope.ts); null: the CA's whole CRL. */
  crlShard: number | null;
}

/**
 * The extensions that are the same for every certificate of a profile under one issuer, around the
 * two that vary (SKI after the head, SAN after the AKI). The order is the certificate's order.
 */
export function constantLeafExtensions(input: Omit<LeafExtensionInput, 'draft' | 'subjectKeyId'>): { head: Extension[]; authorityKeyId: Extension; tail: Extension[] } {
  const { profile } = input;
  const head = [basicConstraints(false), keyUsage(profile.keyUsage)];
  if (profile.extendedKeyUsage.length) head.push(extendedKeyUsage(profile.extendedKeyUsage));
  const tail: Extension[] = [];
  if (profile.revocationPointers) {
    tail.push(
      crlDistributionPoint(scopeUrl(input.publicBaseUrl, { ca: input.issuerName, shard: input.crlShard })),
      authorityInfoAccess(ocspUrl(input.publicBaseUrl), caIssuersUrl(input.publicBaseUrl, input.issuerName)),
    );
  }
  if (profile.ocspNoCheck) tail.push(ocspNoCheck());
  return { head, authorityKeyId: authorityKeyIdentifier(input.issuerKeyId), tail };
}
