import { parseKeyUri } from '../keys/key-uri.js';
import { printJson, printTable } from './output.js';
import { withContext } from './with-context.js';
import { activeStationCount, certificateCounts, deviceCount } from '../store/reports.js';
import { createCrlStore } from '../store/crls.js';
import { probePublicUrl } from '../http/public-url-probe.js';

const DAY = 86_400_000;

/** One look at the CA: hierarchy, certificate counts, what expires soon, CRL age, the token. */
export async function statusCommand(flags: { json: boolean }): Promise<void> {
  const withKeys = Boolean(process.env.HALLMARK_PKCS11_PIN || process.env.HALLMARK_PKCS11_PIN_FILE);
  await withContext({ withKeys }, async (ctx) => {
    const now = ctx.clock.now().getTime();
    const cas = await ctx.cas.list();
    const { byStatus: counts, expired, expiringSoon: expiring, selfRenewingExpiringSoon } = await certificateCounts(ctx.store, now, 30 * DAY);
    const crls = [];
    const crlRows = createCrlStore(ctx.store);
    for (const ca of cas) {
      const latest = await crlRows.latest(ca.name);
      crls.push({
        ca: ca.name,
        number: latest ? Number(latest.number) : null,
        ageMinutes: latest ? Math.round((now - Number(latest.this_update)) / 60_000) : null,
        nextUpdate: latest ? new Date(Number(latest.next_update)).toISOString() : null,
        fresh: latest ? Number(latest.next_update) > now : false,
      });
    }
    let token: Record<string, unknown> = { label: ctx.env.tokenLabel, state: 'not checked (no PIN in the environment)' };
    if (ctx.keys) {
      try {
        const present = await Promise.all(cas.map((c) => ctx.keys!.hasKey(parseKeyUri(c.key_uri))));
        token = { label: ctx.env.tokenLabel, state: present.every(Boolean) ? 'logged in, all CA keys present' : 'logged in, CA keys missing', caKeysPresent: present.filter(Boolean).length };
      } catch (e) {
        token = { label: ctx.env.tokenLabel, state: `unavailable: ${(e as Error).message}` };
      }
    }
    // Does the URL every certificate points relying parties at lead to this CA? (Needs a serving instance.)
    const probed = cas.find((c) => c.status === 'active') ?? cas[0];
    const publicUrl = probed ? await probePublicUrl(ctx.config.publicBaseUrl, { name: probed.name, certificate: probed.certificate }, { configFile: ctx.env.configFile }) : undefined;
    const status = {
      initialised: cas.length > 0,
      publicUrl: publicUrl ? { url: ctx.config.publicBaseUrl, ok: publicUrl.ok, detail: publicUrl.detail } : null,
      cas: cas.map((c) => ({ name: c.name, parent: c.parent, subject: c.subject, keyType: c.key_type, notAfter: new Date(Number(c.not_after)).toISOString(), daysLeft: Math.floor((Number(c.not_after) - now) / DAY) })),
      certificates: { active: (counts.active ?? 0) - expired, expired, revoked: counts.revoked ?? 0, pending: counts.pending ?? 0, failed: counts.failed ?? 0, expiringIn30Days: expiring, selfRenewingExpiringIn30Days: selfRenewingExpiringSoon },
      devices: await deviceCount(ctx.store),
      stations: await activeStationCount(ctx.store),
      crls,
      token,
    };
    if (flags.json) return printJson(status);
    if (!status.initialised) process.stdout.write('no CA yet: run `hallmark init`\n');
    printTable(status.cas, ['name', 'parent', 'keyType', 'notAfter', 'daysLeft']);
    const c = status.certificates;
    process.stdout.write(`\ncertificates: ${c.active} active, ${c.expiringIn30Days} expiring within 30 days, ${c.expired} expired, ${c.revoked} revoked, ${c.pending} pending\n`);
    // OCSP responder and HTTPS certificates are short-lived on purpose and renewed by serve itself.
    if (c.selfRenewingExpiringIn30Days) process.stdout.write(`  (and ${c.selfRenewingExpiringIn30Days} service certificate(s) expiring within 30 days that Hallmark renews by itself: nothing to do)\n`);
    process.stdout.write(`devices: ${status.devices} provisioned by ${status.stations} active station(s)\n\n`);
    printTable(crls, ['ca', 'number', 'ageMinutes', 'nextUpdate', 'fresh']);
    process.stdout.write(`\ntoken "${token.label}": ${token.state}\n`);
    if (publicUrl) process.stdout.write(publicUrl.ok ? `${publicUrl.detail}\n` : `\nWARNING: ${publicUrl.detail} (or no instance is serving)\n`);
  });
}
