import { X509Certificate } from 'node:crypto';
import type { Store } from '../../store/handle.js';
import type { Clock } from '../../base/clock.js';
import type { CaStore } from '../../store/cas.js';
import type { KeyStore } from '../../keys/key-store.js';
import type { IssueDeps } from '../../ca/issue.js';
import type { RevokeDeps } from '../../ca/revoke.js';
import { parseKeyUri } from '../../keys/key-uri.js';
import { disableStation, stationView } from '../../factory/stations.js';
import { actorName, principalOf } from '../../http/authenticate.js';
import type { RouteSpec } from '../../http/routes.js';
import { auditEntryView } from '../../audit/view.js';
import { activeInternalCertificates, type InternalProfile } from '../../store/certificates.js';
import { activeStationCount, certificateCounts, chartSeries, deviceCount, recentAlerts } from '../../store/reports.js';
import { createCrlStore } from '../../store/crls.js';
import { listStations, outputPerStation } from '../../store/factory.js';
import { chartsAnswer, overviewAnswer, stationDisabledAnswer, stationsAnswer } from './answers.js';
import { adviceFor } from '../../alerts/advice.js';

const HOUR = 3_600_000;
const iso = (ms: number | string | null | undefined) => (ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString());


/**
 * What the operator console reads beyond the plain REST resources: the overview, the chart series,
 * devices and stations. Read routes need the read permissions every operator role has; disabling a
 * station needs station.manage, like the CLI.
 */
/** What the console's data routes read: the store, the CA rows and the token (for the HSM's state). */
export interface ConsoleDataDeps {
  store: Store;
  clock: Clock;
  cas: CaStore;
  keys?: KeyStore;
  tokenLabel: string;
}

export function consoleDataRoutes(ctx: ConsoleDataDeps, issue: IssueDeps, revocation: RevokeDeps): RouteSpec[] {
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
        for (const r of await latest('ocsp-signer')) if (!responders.has(r.issuer)) responders.set(r.issuer, { serial: r.serial, notAfter: iso(r.not_after) });
        const tls = (await latest('tls-server'))[0];
        const crls = [];
        for (const ca of cas) {
          const row = await crlRows.latest(ca.name);
          crls.push({ issuer: ca.name, number: row ? String(row.number) : null, thisUpdate: iso(row?.this_update), nextUpdate: iso(row?.next_update), entries: row ? Number(row.entries) : null, ageSeconds: row ? Math.round((now - Number(row.this_update)) / 1000) : null });
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
          now: iso(now),
          counts: headline,
          cas,
          responders: [...responders].map(([issuer, r]) => ({ issuer, ...r })),
          tls: tls ? { serial: tls.serial, notAfter: iso(tls.not_after) } : null,
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
    {
      method: 'get',
      path: '/stations',
      permission: 'device.read',
      summary: 'Stations with their use of the hourly quota',
      answers: { status: 200, schema: stationsAnswer, description: 'Stations and their last hour' },
      handler: async (_req, res) => {
        const since = clock.now().getTime() - HOUR;
        const used = await outputPerStation(store, since);
        const rows = await listStations(store);
        res.json({ stations: rows.map((r) => ({ ...stationView(r), lastHour: used.get(r.name) ?? 0 })) });
      },
    },
    {
      method: 'post',
      path: '/stations/:name/disable',
      permission: 'station.manage',
      summary: 'Disable a station: its API key is revoked and its certificate too',
      answers: { status: 200, schema: stationDisabledAnswer, description: 'Disabled' },
      handler: async (req, res) => {
        await disableStation(revocation, String(req.params.name), actorName(principalOf(req)));
        res.json({ name: req.params.name, state: 'disabled' });
      },
    },
  ];
}
