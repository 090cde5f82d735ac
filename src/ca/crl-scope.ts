import type { CaDefinition } from '../config/ca-config.js';
import { crlShardUrl, crlUrl, deltaCrlUrl } from './urls.js';

/** How one CA family publishes its CRLs (`cas[].crl` in the configuration). */
export interface CrlPolicy {
  /** 0: one CRL for the CA; otherwise new certificates name one of this many shards. */
  shards: number;
  deltas: boolean;
}

/**
 * What one CRL covers: every certificate of a CA generation (`shard` null, the CRL at /crl/<ca>.crl,
 * no issuing distribution point), or those issued into one shard (RFC 5280 §5.2.5).
 */
export interface CrlScope {
  ca: string;
  shard: number | null;
}

export type CrlKind = 'complete' | 'delta';

const UNSHARDED: CrlPolicy = { shards: 0, deltas: false };

export const crlPolicies = (cas: readonly CaDefinition[]) => {
  const byFamily = new Map(cas.map((ca) => [ca.name, ca.crl ?? UNSHARDED]));
  return (family: string): CrlPolicy => byFamily.get(family) ?? UNSHARDED;
};

/**
 * The shard a new certificate goes into: the serial's last four octets modulo the shard count, so
 * shards fill evenly (serials are random). Chosen once, written into the certificate's CRL
 * distribution point and stored with it (certificates.crl_shard): a later change of the count never
 * moves a certificate, since the shard's CRL is read from that column, not recomputed.
 */
export function crlShardOf(serial: Uint8Array, shards: number): number | null {
  if (shards <= 0) return null;
  const n = serial.length;
  const tail = ((serial[n - 4]! << 24) | (serial[n - 3]! << 16) | (serial[n - 2]! << 8) | serial[n - 1]!) >>> 0;
  return tail % shards;
}

/** Where the complete CRL of a scope is served: its certificates' CRL distribution point. */
export const scopeUrl = (base: string, scope: CrlScope) => (scope.shard === null ? crlUrl(base, scope.ca) : crlShardUrl(base, scope.ca, scope.shard));

export const scopeDeltaUrl = (base: string, scope: CrlScope) => deltaCrlUrl(base, scope.ca, scope.shard);

/** A scope in words, for logs and audit targets: `issuing`, `issuing/3`. */
export const scopeName = (scope: CrlScope) => (scope.shard === null ? scope.ca : `${scope.ca}/${scope.shard}`);

/**
 * The scopes a CA generation publishes: always the whole CRL, and shards 0..shardCount-1, where
 * shardCount is the largest count any process has issued under (store/crls.ts recordShardCount):
 * certificates issued before the count was lowered still name the higher shards.
 */
export function scopesOf(ca: string, shardCount: number): CrlScope[] {
  const scopes: CrlScope[] = [{ ca, shard: null }];
  for (let shard = 0; shard < shardCount; shard++) scopes.push({ ca, shard });
  return scopes;
}
