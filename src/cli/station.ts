import os from 'node:os';
import path from 'node:path';
import { issuingDeps } from '../app/context.js';
import { addStation, disableStation, stationView } from '../factory/stations.js';
import { listStations } from '../store/factory.js';
import { printJson, printTable } from './output.js';
import { usageError } from './usage-error.js';
import { withContext } from './with-context.js';

export interface StationFlags {
  json: boolean;
  line?: string;
  name?: string;
  profiles?: string;
  quota?: string;
}

export async function stationCommand(verb: string | undefined, args: string[], flags: StationFlags): Promise<void> {
  const actor = `cli:${os.userInfo().username}`;
  if (verb === 'add') {
    const { line, name } = flags;
    if (!line || !name) throw usageError('usage: hallmark station add --line <line> --name <name> [--profiles device,…] [--quota <devices per hour>]');
    const quota = flags.quota === undefined ? undefined : Number(flags.quota);
    if (quota !== undefined && (!Number.isInteger(quota) || quota < 1)) throw usageError(`--quota takes a whole number of devices per hour, got "${flags.quota}"`);
    await withContext({ withKeys: true }, async (ctx) => {
      const { credentials: _shownInFiles, ...station } = await addStation(
        { store: ctx.store, audit: ctx.audit, issue: await issuingDeps(ctx) },
        { name, line, profiles: flags.profiles?.split(',').map((p) => p.trim()).filter(Boolean), quotaPerHour: quota, actor, dir: path.join(ctx.env.home, 'stations') },
      );
      if (flags.json) printJson(station);
      else
        process.stdout.write(
          `station ${station.name} (line ${station.line}) registered.\n  API key (shown once): ${station.apiKey}\n  client certificate:   ${station.certFile}\n  client key:           ${station.keyFile}\nGive both to the station; either authenticates it to POST /api/v1/factory/provision.\n`,
        );
    });
    return;
  }
  await withContext({ withKeys: false }, async (ctx) => {
    if (verb === 'list') {
      const rows = (await listStations(ctx.store)).map(stationView);
      if (flags.json) printJson(rows);
      else printTable(rows.map((r) => ({ ...r, profiles: r.profiles.join(',') })), ['name', 'line', 'state', 'profiles', 'quotaPerHour', 'createdAt']);
    } else if (verb === 'disable') {
      const name = args[0];
      if (!name) throw usageError('usage: hallmark station disable <name>');
      await disableStation({ store: ctx.store, audit: ctx.audit, clock: ctx.clock, listeners: [] }, name, actor);
      if (flags.json) printJson({ name, disabled: true });
      else process.stderr.write(`station ${name} disabled: its API key and certificate are revoked\n`);
    } else throw usageError('usage: hallmark station add|list|disable …');
  });
}
