import type { Clock } from '../../base/clock.js';
import type { CrlCache } from './cache.js';
import type { AlertSink } from '../../alerts/sink.js';

/**
 * The CRLs of `cas` past their nextUpdate, or the whole CRL missing: names as served (`issuing`,
 * `issuing/3`, `issuing/3 delta`). Deltas count only for a CA that signs them now (`hasDeltas`): the
 * last ones signed before deltas were turned off are left to age.
 */
export function staleCrls(crls: CrlCache, cas: string[], now: number, hasDeltas: (ca: string) => boolean): { name: string; ca: string; nextUpdate: Date | null }[] {
  const stale: { name: string; ca: string; nextUpdate: Date | null }[] = [];
  for (const ca of cas) if (!crls.get(ca)) stale.push({ name: ca, ca, nextUpdate: null });
  for (const { ca, shard, kind, crl } of crls.all()) {
    if (!cas.includes(ca) || crl.nextUpdate.getTime() > now || (kind === 'delta' && !hasDeltas(ca))) continue;
    stale.push({ name: `${shard === null ? ca : `${ca}/${shard}`}${kind === 'delta' ? ' delta' : ''}`, ca, nextUpdate: crl.nextUpdate });
  }
  return stale;
}

/** A CRL past its nextUpdate (or none at all) means relying parties are failing closed, or open. */
export async function checkCrlFreshness(crls: CrlCache, cas: string[], clock: Clock, alerts: AlertSink, hasDeltas: (ca: string) => boolean): Promise<void> {
  for (const { name, ca, nextUpdate } of staleCrls(crls, cas, clock.now().getTime(), hasDeltas)) {
    alerts.raise({
      rule: 'crl-stale',
      severity: 'critical',
      message: nextUpdate ? `the CRL ${name} passed its nextUpdate (${nextUpdate.toISOString()}) without a newer one` : `no CRL has been published for ${ca}`,
      details: { ca, crl: name, nextUpdate: nextUpdate?.toISOString() ?? null },
    });
  }
}
