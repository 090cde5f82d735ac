import { isoTime } from '../../base/iso-time.js';
import { X509Certificate } from 'node:crypto';
import type { Store } from '../../store/handle.js';
import type { Clock } from '../../base/clock.js';
import type { CaStore } from '../../store/cas.js';
import type { KeyStore } from '../../keys/key-store.js';
import type { IssueDeps } from '../../ca/issue.js';
import { parseKeyUri } from '../../keys/key-uri.js';
import type { RouteSpec } from '../../http/routes.js';
import { auditEntryView } from '../../audit/view.js';
import { activeInternalCertificates, type InternalProfile } from '../../store/certificates.js';
import { activeStationCount, certificateCounts, chartSeries, deviceCount, recentAlerts } from '../../store/reports.js';
import { createCrlStore } from '../../store/crls.js';
import { chartsAnswer, overviewAnswer } from './answers.js';
import { adviceFor } from '../../alerts/advice.js';

const HOUR = 3_600_000;

/** What the console's data routes (the overview and the chart series) read: the store, the CA rows and the token (for the HSM's state). */
export interface ConsoleDataDeps {
  store: Store;
  clock: Clock;
  cas: CaStore;
  keys?: KeyStore;
  tokenLabel: string;
}

export function consoleDataRoutes(ctx: ConsoleDataDeps, issue: IssueDeps): RouteSpec[] {
  const { store, clock } = ctx;
  const crlRows = createCrlStore(store);
  return [
    {
      method: 'get',
      path: '/overview',
      permission: 'ca.read',
      summary: 'CA hierarchy with validity, OCSP signer and TLS certificate expiry, CRL age, HSM token state, alerts of the last 24 hours',
      answers: { status: 200, schema: overviewAnswer, description: 'The console overview' },
      handler: async (_req, res) => {
        const now = clock.now().getTime();
        const cas = issue.issuers.list().map((ca) => {
          const cert = new X509Certificate(Buffer.from(ca.certificate));
          return { name: ca.name, family: ca.family, isRoot: ca.isRoot, subject: cert.subject.replace(/\n/g, ', '), notBefore: ca.notBefore.toISOString(), notAfter: ca.notAfter.toISOString(), activeFrom: ca.activeFrom.toISOString() };
        });
        const latest = (profile: InternalProfile) => activeInternalCertificates(store, profile, now);
        const responders = new Map<string, { serial: string; notAfter: string | null }>();
        for (const r of await latest('ocsp-signer')) if (!responders.has(r.issuer)) responders.set(r.issuer, { serial: r.serial, notAfter: isoTime(r.not_after) });
        const tls = (await latest('tls-server'))[0];
        const crls = [];
        for (const ca of cas) {
          const row = await crlRows.latest(ca.name);
          crls.push({ issuer: ca.name, number: row ? String(row.number) : null, thisUpdate: isoTime(row?.this_update), nextUpdate: isoTime(row?.next_update), entries: row ? Number(row.entries) : null, ageSeconds: row ? Math.round((now - Number(row.this_update)) / 1000) : null });
        }
        let hsm: { token: string; reachable: boolean; detail: string };
        try {
          const issuing = await ctx.cas.get(issue.issuers.get('issuing').name);
          const protection = await ctx.keys!.describeProtection(parseKeyUri(issuing!.key_uri));
          hsm = { token: ctx.tokenLabel, reachable: true, detail: protection.sensitive && !protection.extractable ? 'issuing key present, sensitive, not extractable' : 'issuing key present but extractable' };
        } catch (e) {
          hsm = { token: ctx.tokenLabel, reachable: false, detail: (e as Error).message };
        }
        const alerts = (await recentAlerts(store, now - 24 * HOUR, 50)).map((row) => {
          const entry = auditEntryView(row);
          const severity = String((entry.details as { severity?: unknown } | null)?.severity ?? 'warning');
          return { ...entry, severity, advice: adviceFor(entry.target) };
        });
        const counts = await certificateCounts(store, now);
        const headline = {
          activeCertificates: (counts.byStatus.active ?? 0) - counts.expired,
          expiringIn30Days: counts.expiringSoon,
          selfRenewingExpiringIn30Days: counts.selfRenewingExpiringSoon,
          revokedCertificates: counts.byStatus.revoked ?? 0,
          factoryDevices: await deviceCount(store),
          stations: await activeStationCount(store),
        };
        res.json({
          now: isoTime(now),
          counts: headline,
          cas,
          responders: [...responders].map(([issuer, r]) => ({ issuer, ...r })),
          tls: tls ? { serial: tls.serial, notAfter: isoTime(tls.not_after) } : null,
          crls,
          hsm,
          alerts,
        });
      },
    },
    {
      method: 'get',
      path: '/charts',
      permission: 'device.read',
      summary: 'Devices provisioned per hour by line (7 days), certificates expiring per week (26 weeks), revocations by reason',
      answers: { status: 200, schema: chartsAnswer, description: 'The console charts' },
      handler: async (_req, res) => {
        res.json(await chartSeries(store, clock.now().getTime()));
      },
    },
  ];
}
