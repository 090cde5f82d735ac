import fs from 'node:fs';
import os from 'node:os';
import { HallmarkError } from '../base/errors.js';
import { csvLine, note, printJson, printTable } from './output.js';
import { parseLimit, usageError } from './usage-error.js';
import { withContext } from './with-context.js';
import { inventoryEntries, inventoryEntry, inventoryPage, type InventoryStatus } from '../store/inventory.js';
import { allowDeviceReprovisioning, deviceProfiles, historyView, lastSeenOf, inventoryView } from '../factory/inventory.js';
import { devicesAfter, devicesPerLot, manufacturingRecordsOf, newestDevices, type DeviceRow } from '../store/factory.js';

export interface DeviceFlags {
  json: boolean;
  line?: string;
  lot?: string;
  prefix?: string;
  after?: string;
  status?: string;
  format?: string;
  out?: string;
  limit?: string;
}

const view = (r: DeviceRow | Record<string, unknown>) => ({
  serial: r.serial,
  state: r.state,
  line: r.line,
  station: r.station,
  model: r.model,
  lot: r.lot,
  firmwareVersion: r.firmware_version,
  profile: r.profile,
  certificateSerial: r.certificate_serial,
  serverKeygen: Boolean(r.server_keygen),
  provisionedAt: new Date(Number(r.provisioned_at)).toISOString(),
  reprovisionAllowed: r.reprovision_allowed_at !== null,
  tpm: r.ek_id ?? null,
});

/** One line of the inventory table. */
const flat = (r: ReturnType<typeof inventoryView>) => ({
  serial: r.serial,
  via: r.via,
  state: r.state,
  line: r.line,
  lot: r.lot,
  model: r.model,
  certificate: r.certificate?.serial ?? null,
  status: r.certificate?.status ?? null,
  notAfter: r.certificate?.notAfter ?? null,
  certificates: r.certificates,
});

const INVENTORY_STATES: InventoryStatus[] = ['active', 'expired', 'revoked'];

/**
 * The device inventory: every device however it got its identity (list, show), and the factory's
 * records (export as CSV or JSON lines, report, reprovision).
 */
export async function deviceCommand(verb: string | undefined, args: string[], flags: DeviceFlags): Promise<void> {
  await withContext({ withKeys: false }, async (ctx) => {
    const now = ctx.clock.now().getTime();
    const profiles = deviceProfiles(ctx.config.profiles);
    if (verb === 'list') {
      const limit = parseLimit(flags.limit);
      let rows: ReturnType<typeof inventoryView>[];
      if (flags.line || flags.lot) {
        // Lines and lots are the factory's: its own query, through their indexes, newest first.
        if (flags.prefix || flags.after || flags.status) throw usageError('--line and --lot list factory devices, newest first; --prefix, --after and --status go with the whole inventory');
        const factory = await newestDevices(ctx.store, { line: flags.line, lot: flags.lot, limit });
        rows = (await inventoryEntries(ctx.store, factory.map((d) => String(d.serial)), profiles)).map((e) => inventoryView(e, now));
      } else {
        if (flags.status && !INVENTORY_STATES.includes(flags.status as InventoryStatus)) throw usageError(`--status is one of ${INVENTORY_STATES.join(', ')}`);
        const page = await inventoryPage(ctx.store, { profiles, prefix: flags.prefix, after: flags.after, status: flags.status as InventoryStatus | undefined, limit }, now);
        rows = page.map((e) => inventoryView(e, now));
        // Keyset paging: the next page starts after the last device shown.
        if (rows.length === limit && !flags.json) note(`more may follow: hallmark device list --after ${rows[rows.length - 1]!.serial}${flags.prefix ? ` --prefix ${flags.prefix}` : ''}${flags.status ? ` --status ${flags.status}` : ''}`);
      }
      if (flags.json) printJson(rows);
      else printTable(rows.map(flat), ['serial', 'via', 'line', 'lot', 'certificate', 'status', 'notAfter', 'certificates']);
    } else if (verb === 'show') {
      const serial = args[0];
      if (!serial) throw usageError('usage: hallmark device show <device id>');
      // The inventory's entry carries the factory's row, when there is one.
      const entry = await inventoryEntry(ctx.store, serial, profiles);
      const row = entry?.device;
      if (!entry) throw new HallmarkError('not_found', `no device ${serial}: no certificate of a device profile names it and no station provisioned it; see \`hallmark device list --prefix ${serial.slice(0, 4)}\``, 404);
      const records = (await manufacturingRecordsOf(ctx.store, serial)).map((r) => ({ ...r, at: new Date(Number(r.at)).toISOString() }));
      const summary = inventoryView(entry, now);
      const history = historyView(entry, now);
      // The factory's fields (certificateSerial, serverKeygen, …) as before, with the inventory's beside them.
      const lastSeen = await lastSeenOf(ctx.store, entry);
      const out = { ...(row ? view(row) : {}), ...summary, lastSeen, history, records };
      if (flags.json) printJson(out);
      else {
        for (const [k, v] of Object.entries({ ...flat(summary), lastSeenByOcsp: lastSeen.ocsp, lastRenewal: lastSeen.renewal })) process.stdout.write(`${k.padEnd(19)} ${v ?? '-'}\n`);
        process.stdout.write(`\ncertificates, newest first:\n`);
        printTable(history, ['serial', 'status', 'profile', 'issuedAt', 'notAfter', 'requestedBy', 'revocationReason']);
        if (records.length) {
          process.stdout.write(`\nmanufacturing records:\n`);
          printTable(records, ['at', 'station', 'line', 'lot', 'firmware_version', 'certificate_serial']);
        }
      }
    } else if (verb === 'export') {
      const format = flags.format ?? 'jsonl';
      if (format !== 'csv' && format !== 'jsonl') throw usageError('--format is csv or jsonl');
      const out = flags.out ? fs.createWriteStream(flags.out) : process.stdout;
      const columns = ['serial', 'state', 'line', 'station', 'model', 'lot', 'firmwareVersion', 'profile', 'certificateSerial', 'serverKeygen', 'provisionedAt'];
      if (format === 'csv') out.write(csvLine(columns));
      let count = 0;
      for (let after = ''; ; ) {
        const rows = await devicesAfter(ctx.store, after, 5000);
        if (!rows.length) break;
        for (const r of rows.map(view)) out.write(format === 'csv' ? csvLine(columns.map((c) => (r as Record<string, unknown>)[c])) : JSON.stringify(r) + '\n');
        count += rows.length;
        after = rows[rows.length - 1].serial;
        if (flags.out) note(`exported ${count} devices`);
      }
      if (flags.out) await new Promise((r) => (out as fs.WriteStream).end(r));
    } else if (verb === 'report') {
      const rows = await devicesPerLot(ctx.store);
      if (flags.json) printJson(rows);
      else printTable(rows, ['line', 'lot', 'devices']);
    } else if (verb === 'reprovision') {
      const serial = args[0];
      if (!serial) throw usageError('usage: hallmark device reprovision <device serial>');
      await allowDeviceReprovisioning({ store: ctx.store, audit: ctx.audit }, serial, `cli:${os.userInfo().username}`, 'cli', ctx.clock.now().getTime());
      if (flags.json) printJson({ serial, reprovisionAllowed: true });
      else process.stderr.write(`device ${serial} may be provisioned once more; its current identity is revoked when that happens\n`);
    } else throw usageError('usage: hallmark device list|show|export|report|reprovision …');
  });
}
