import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { AuditLog } from '../audit/log.js';
import type { CaConfig } from './ca-config.js';
import { inTransaction, type Store } from '../store/handle.js';
import { readSetting, writeSetting } from '../store/settings.js';

/**
 * Configuration and profiles are data the CA acts on, so a change to them is audited: on start the
 * digests of the files are compared with the ones recorded last time, and any difference becomes a
 * `config.change` entry naming the files.
 */
export async function auditConfigChanges(store: Store, audit: AuditLog, config: CaConfig, actor: string): Promise<string[]> {
  const base = path.dirname(config.file);
  const current: Record<string, string> = {};
  for (const file of config.files) current[path.relative(base, file)] = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  const recorded = await readSetting(store, 'config.digests');
  const previous: Record<string, string> = recorded ? JSON.parse(recorded) : {};
  const changed = [...new Set([...Object.keys(current), ...Object.keys(previous)])].filter((f) => current[f] !== previous[f]).sort();
  if (!changed.length) return [];
  await inTransaction(store, async (trx) => {
    await writeSetting(trx, 'config.digests', JSON.stringify(current));
    await audit.recordIn(trx, {
      actor,
      action: 'config.change',
      target: config.file,
      outcome: 'success',
      details: { first: !recorded, changed: changed.map((f) => ({ file: f, before: previous[f] ?? null, after: current[f] ?? null })) },
    });
  });
  return changed;
}
