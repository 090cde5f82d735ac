import { inTransaction } from '../store/handle.js';
import fs from 'node:fs';
import os from 'node:os';
import { HallmarkError } from '../base/errors.js';
import { csvLine, note, printJson, printTable } from './output.js';
import { parseLimit, usageError } from './usage-error.js';
import { withContext } from './with-context.js';
import { allowReprovisioning, devicesAfter, devicesPerLot, findDevice, manufacturingRecordsOf, newestDevices, type DeviceRow } from '../store/factory.js';

export interface DeviceFlags {
  json: boolean;
  line?: string;
  lot?: string;
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
});

/** The inventory the factory records make: list, show, export (CSV or JSON lines), report, reprovision. */
export async function deviceCommand(verb: string | undefined, args: string[], flags: DeviceFlags): Promise<void> {
  await withContext({ withKeys: false }, async (ctx) => {
    if (verb === 'list') {
      const rows = (await newestDevices(ctx.store, { line: flags.line, lot: flags.lot, limit: parseLimit(flags.limit) })).map(view);
      if (flags.json) printJson(rows);
      else printTable(rows, ['serial', 'state', 'line', 'station', 'lot', 'model', 'certificateSerial', 'provisionedAt']);
    } else if (verb === 'show') {
      const serial = args[0];
      if (!serial) throw usageError('usage: hallmark device show <device serial>');
      const row = await findDevice(ctx.store, serial);
      if (!row) throw new HallmarkError('not_found', `no device ${serial}; see \`hallmark device list\``, 404);
      const records = (await manufacturingRecordsOf(ctx.store, serial)).map((r) => ({ ...r, at: new Date(Number(r.at)).toISOString() }));
      const out = { ...view(row), records };
      if (flags.json) printJson(out);
      else {
        for (const [k, v] of Object.entries(view(row))) process.stdout.write(`${k.padEnd(19)} ${v ?? '-'}\n`);
        process.stdout.write(`manufacturing records:\n`);
        printTable(records, ['at', 'station', 'line', 'lot', 'firmware_version', 'certificate_serial']);
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
      const actor = `cli:${os.userInfo().username}`;
      const done = await inTransaction(ctx.store, async (trx) => {
        const allowed = await allowReprovisioning(trx, serial, ctx.clock.now().getTime());
        if (allowed) await ctx.audit.recordIn(trx, { actor, action: 'device.reprovision.allow', target: serial, outcome: 'success', source: 'cli' });
        return allowed;
      });
      if (!done) throw new HallmarkError('not_found', `no provisioned device ${serial}`, 404);
      if (flags.json) printJson({ serial, reprovisionAllowed: true });
      else process.stderr.write(`device ${serial} may be provisioned once more; its current identity is revoked when that happens\n`);
    } else throw usageError('usage: hallmark device list|show|export|report|reprovision …');
  });
}
