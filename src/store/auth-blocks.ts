import { sql, type Handle } from './handle.js';

export type BlockScope = 'pair' | 'credential' | 'address';

/** A block in force: what it refuses, until when (epoch ms), and why. */
export interface AuthBlock {
  id: string;
  scope: BlockScope;
  source: string | null;
  credential: string | null;
  failures: number;
  createdAt: number;
  until: number;
}

export interface AuthBlockRow {
  id: string;
  scope: BlockScope;
  source: string | null;
  credential: string | null;
  failures: number;
  created_at: number;
  until: number;
  lifted_at: number | null;
  lifted_by: string | null;
}

export const blockOf = (row: AuthBlockRow): AuthBlock => ({
  id: row.id,
  scope: row.scope,
  source: row.source,
  credential: row.credential,
  failures: Number(row.failures),
  createdAt: Number(row.created_at),
  until: Number(row.until),
});

export async function saveBlock(db_: Handle, block: AuthBlock): Promise<void> {
  const db = sql(db_);
  await db('auth_blocks').insert({ id: block.id, scope: block.scope, source: block.source, credential: block.credential, failures: block.failures, created_at: block.createdAt, until: block.until, lifted_at: null, lifted_by: null });
}

/** Blocks not yet over, lifted or not (every instance polls this to enforce them and to forget lifted ones). */
export async function unexpiredBlocks(db_: Handle, now: number): Promise<AuthBlockRow[]> {
  const db = sql(db_);
  return db('auth_blocks').where('until', '>', now).orderBy('created_at');
}

/** Lifts a block in force; false when there is no such block, or it is over or lifted already. */
export async function liftBlock(db_: Handle, id: string, by: string, now: number): Promise<AuthBlockRow | undefined> {
  const db = sql(db_);
  return db.transaction(async (trx) => {
    const row = (await trx('auth_blocks').where({ id }).where('until', '>', now).whereNull('lifted_at').first()) as AuthBlockRow | undefined;
    if (!row) return undefined;
    await trx('auth_blocks').where({ id }).whereNull('lifted_at').update({ lifted_at: now, lifted_by: by });
    return row;
  });
}
