import { sql, type Handle } from './handle.js';
import { ROWS_PER_STATEMENT } from './insert-many.js';

export interface KeyBinding {
  keyId: string;
  identity: string;
}

/** What a key is bound to already, when that forbids the binding asked for. */
export type KeyRefusal = { keyId: string; reason: 'bound-elsewhere' } | { keyId: string; reason: 'compromised'; serial: string | null };

/** Why a stored binding refuses the one asked for: the key was compromised, or else it is bound to another identity. */
export const refusalOf = (row: { key_id: string; compromised_at: number | string | null; compromised_serial: string | null }): KeyRefusal =>
  row.compromised_at !== null ? { keyId: row.key_id, reason: 'compromised', serial: row.compromised_serial } : { keyId: row.key_id, reason: 'bound-elsewhere' };

/** What stays when these keys are refused: a row with a key of its own unless that key was refused; a row with none (null) always. */
export function keptDespite(refusals: KeyRefusal[]): (keyId: string | null) => boolean {
  const refused = new Set(refusals.map((r) => r.keyId));
  return (keyId) => keyId === null || !refused.has(keyId);
}

/**
 * Binds each key to its identity unless it is bound already; returns the keys whose binding is refused:
 * bound to another identity, or compromised. One statement per 400 keys: the insert that loses the race
 * to another binding of the same key turns into a no-op update that still returns the row as it stands.
 */
export async function bindKeys(db_: Handle, bindings: KeyBinding[], now: number): Promise<KeyRefusal[]> {
  const db = sql(db_);
  const wanted = new Map(bindings.map((b) => [b.keyId, b.identity]));
  const refusals: KeyRefusal[] = [];
  const rows = [...wanted].map(([key_id, identity]) => ({ key_id, identity, bound_at: now }));
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
    const stored = (await db('public_keys')
      .insert(rows.slice(i, i + ROWS_PER_STATEMENT))
      .onConflict('key_id')
      .merge(['key_id'])
      .returning(['key_id', 'identity', 'compromised_at', 'compromised_serial'])) as { key_id: string; identity: string; compromised_at: number | null; compromised_serial: string | null }[];
    for (const row of stored) if (row.compromised_at !== null || row.identity !== wanted.get(row.key_id)) refusals.push(refusalOf(row));
  }
  return refusals;
}

/** A key revoked for keyCompromise is refused for ever, whoever it was bound to. */
export async function markKeyCompromised(db_: Handle, key: KeyBinding, serial: string, now: number): Promise<void> {
  const db = sql(db_);
  await db('public_keys')
    .insert({ key_id: key.keyId, identity: key.identity, bound_at: now, compromised_at: now, compromised_serial: serial })
    .onConflict('key_id')
    .merge({ compromised_at: now, compromised_serial: serial });
}
