import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { AuditLog } from '../audit/log.js';
import type { Db } from '../store/db.js';
import type { CaConfig } from './ca-config.js';

/**
 * Configuration and profiles are data the CA acts on, so a change to them is audited: on start the
 * digests of the files are compared with the ones recorded last time, and any difference becomes a
 * `config.change` entry naming the files.
 */
export async function auditConfigChanges(db: Db, audit: AuditLog, config: CaConfig, actor: string): Promise<string[]> {
  const base = path.dirname(config.file);
  const current: Record<string, string> = {};
  for (const file of config.files) current[path.relative(base, file)] = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  const row = await db('settings').where({ name: 'config.digests' }).first();
  const previous: Record<string, string> = row ? JSON.parse(row.value) : {};
  const changed = [...new Set([...Object.keys(current), ...Object.keys(previous)])].filter((f) => current[f] !== previous[f]).sort();
  if (!changed.length) return [];
  await db.transaction(async (trx) => {
    if (row) await trx('settings').where({ name: 'config.digests' }).update({ value: JSON.stringify(current) });
    else await trx('settings').insert({ name: 'config.digests', value: JSON.stringify(current) });
    await audit.recordIn(trx, {
      actor,
      action: 'config.change',
      target: config.file,
      outcome: 'success',
      details: { first: !row, changed: changed.map((f) => ({ file: f, before: previous[f] ?? null, after: current[f] ?? null })) },
    });
  });
  return changed;
}
