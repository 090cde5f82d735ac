import type { Clock } from '../../base/clock.js';
import type { Store } from '../../store/handle.js';
import type { IssuerRegistry } from '../../ca/issuer.js';
import { activeInternalCertificates } from '../../store/certificates.js';
import { certsOnly } from '../../x509/pkcs7.js';

interface Made {
  pkcs7: Uint8Array;
  version: number;
  /** When it is to be made again: its age limit, or the first of its link certificates to expire. */
  until: number;
}

/**
 * The cacerts answer (RFC 7030 §4.1.3), kept in memory between requests. It is public (no
 * authentication) and every device asks for it: reading the link certificates from the database for
 * each request was most of its cost (docs/issuance-performance.md), and an unauthenticated client
 * could make the database do that work at will.
 *
 * The set is the current one: made again as soon as the CA set changes (a rollover, seen through the
 * issuer registry's version: in this process at once, from the CLI or another instance at the next
 * status poll), when a link certificate in it expires, and at least every `maxAgeMs` (a link revoked
 * elsewhere). Concurrent requests for a stale answer wait for one read. While the database cannot be
 * read, the answer last made for the same CA set goes on being served, as the CRL and cached OCSP
 * answers are: it is public CA material, and the CA certificates in it come from memory anyway.
 */
export function createCaCertsAnswer(deps: { store: Store; issuers: IssuerRegistry; clock: Clock; maxAgeMs: number }): (profileIssuer: string) => Promise<Uint8Array> {
  const made = new Map<string, Made>();
  const making = new Map<string, Promise<Made>>();

  // Every generation of the issuing CA not retired (devices learn a new CA before they need it),
  // their chains, and the roots; then the root links valid now.
  async function make(profileIssuer: string): Promise<Made> {
    const version = deps.issuers.version();
    const now = deps.clock.now().getTime();
    const generations = deps.issuers.generations(deps.issuers.get(profileIssuer).family);
    const roots = deps.issuers.list().filter((i) => i.isRoot).map((r) => r.certificate);
    const chain = [...generations.flatMap((g) => g.chain), ...roots];
    const unique = chain.filter((c, i) => chain.findIndex((o) => Buffer.from(o).equals(Buffer.from(c))) === i);
    const links = (await activeInternalCertificates(deps.store, 'link', now)).filter((r) => r.der);
    const until = Math.min(now + deps.maxAgeMs, ...links.map((r) => Number(r.not_after)));
    return { pkcs7: certsOnly([...unique, ...links.map((r) => new Uint8Array(r.der!))]), version, until };
  }

  return async (profileIssuer) => {
    const kept = made.get(profileIssuer);
    if (kept && kept.version === deps.issuers.version() && deps.clock.now().getTime() < kept.until) return kept.pkcs7;
    let pending = making.get(profileIssuer);
    if (!pending) {
      pending = make(profileIssuer).finally(() => making.delete(profileIssuer));
      making.set(profileIssuer, pending);
    }
    let fresh: Made;
    try {
      fresh = await pending;
    } catch (e) {
      if (kept && kept.version === deps.issuers.version()) return kept.pkcs7;
      throw e;
    }
    made.set(profileIssuer, fresh);
    return fresh.pkcs7;
  };
}
