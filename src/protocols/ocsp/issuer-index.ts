import type { IssuerRegistry } from '../../ca/issuer.js';
import { issuerCertIdHashes } from '../../x509/ocsp.js';

/**
 * CertID → CA (RFC 6960 §4.1.1): issuerNameHash is the hash of the issuer's DER subject,
 * issuerKeyHash the hash of its subjectPublicKey bits, for each hash algorithm clients use.
 */
export function buildIssuerIndex(issuers: IssuerRegistry): (hash: string | undefined, nameHash: string, keyHash: string) => string | undefined {
  const index = new Map<string, string>();
  const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
  for (const issuer of issuers.list()) {
    for (const hash of ['sha1', 'sha256', 'sha384', 'sha512']) {
      const { name, key } = issuerCertIdHashes(issuer.certificate, hash);
      index.set(`${hash}:${hex(name)}:${hex(key)}`, issuer.name);
    }
  }
  return (hash, nameHash, keyHash) => (hash ? index.get(`${hash}:${nameHash}:${keyHash}`) : undefined);
}

/** The same for SHA-1 CertIDs read as bytes (x509/ocsp.ts plainSha1Request): a byte comparison per CA. */
export function buildSha1IssuerMatcher(issuers: IssuerRegistry): (nameHash: Uint8Array, keyHash: Uint8Array) => string | undefined {
  const known = issuers.list().map((issuer) => ({ name: issuer.name, hashes: issuerCertIdHashes(issuer.certificate, 'sha1') }));
  return (nameHash, keyHash) => known.find((k) => Buffer.compare(k.hashes.key, keyHash) === 0 && Buffer.compare(k.hashes.name, nameHash) === 0)?.name;
}
