import type { Clock } from '../../base/clock.js';
import type { CrlCache } from './cache.js';
import type { AlertSink } from '../../alerts/sink.js';

/** A CRL past its nextUpdate (or none at all) means relying parties are failing closed, or open. */
export async function checkCrlFreshness(crls: CrlCache, cas: string[], clock: Clock, alerts: AlertSink): Promise<void> {
  const now = clock.now().getTime();
  for (const ca of cas) {
    const served = crls.get(ca);
    if (served && served.nextUpdate.getTime() > now) continue;
    alerts.raise({
      rule: 'crl-stale',
      severity: 'critical',
      message: served ? `the CRL of ${ca} passed its nextUpdate (${served.nextUpdate.toISOString()}) without a newer one` : `no CRL has been published for ${ca}`,
      details: { ca, nextUpdate: served?.nextUpdate.toISOString() ?? null },
    });
  }
}
