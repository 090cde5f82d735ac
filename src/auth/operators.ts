import type { Knex } from 'knex';
import type { SecretSealer } from '../keys/key-store.js';
import type { Db } from '../store/db.js';
import { HallmarkError } from '../errors.js';
import type { Role } from './roles.js';
import { hashPassword, passwordProblem, verifyPassword } from './passwords.js';
import { matchTotp, newTotpSecret, otpauthUri } from './totp.js';

export interface OperatorRow {
  name: string;
  role: Role;
  password_hash: string;
  totp_sealed: Buffer;
  totp_last_step: number;
  created_by: string;
  created_at: number;
  disabled_at: number | null;
}

const totpContext = (name: string) => `hallmark/totp/${name}`;

export async function createOperator(
  db: Db | Knex.Transaction,
  sealer: SecretSealer,
  options: { name: string; role: Role; password: string; createdBy: string; now: Date },
): Promise<{ otpauth: string; totpSecret: Uint8Array }> {
  if (!/^[a-z][a-z0-9._-]{1,63}$/.test(options.name)) throw new HallmarkError('invalid_name', 'operator names are 2–64 lowercase letters, digits, dots, dashes or underscores', 400);
  const problem = passwordProblem(options.password);
  if (problem) throw new HallmarkError('weak_password', `password refused: ${problem}`, 400);
  if (await db('operators').where({ name: options.name }).first()) throw new HallmarkError('exists', `operator "${options.name}" exists already`, 409);
  const secret = newTotpSecret();
  await db('operators').insert({
    name: options.name,
    role: options.role,
    password_hash: await hashPassword(options.password),
    totp_sealed: Buffer.from(await sealer.seal(secret, totpContext(options.name))),
    totp_last_step: 0,
    created_by: options.createdBy,
    created_at: options.now.getTime(),
    disabled_at: null,
  });
  return { otpauth: otpauthUri('Hallmark', options.name, secret), totpSecret: secret };
}

/**
 * Password and TOTP code, both checked whatever the first one says (no early exit that would tell a
 * guesser which was wrong). A TOTP step is accepted once: replaying a code fails.
 */
export async function checkOperatorLogin(
  db: Db,
  sealer: SecretSealer,
  login: { name: string; password: string; totp: string },
  now: Date,
): Promise<OperatorRow | undefined> {
  const row = (await db('operators').where({ name: login.name }).first()) as OperatorRow | undefined;
  const passwordOk = await verifyPassword(login.password, row?.password_hash ?? 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=');
  if (!row || row.disabled_at !== null) return undefined;
  const secret = await sealer.open(row.totp_sealed, totpContext(row.name));
  const step = matchTotp(secret, login.totp, now);
  if (!passwordOk || step === undefined || step <= Number(row.totp_last_step)) return undefined;
  // Compare-and-set: two logins racing with the same code cannot both win.
  const updated = await db('operators').where({ name: row.name }).where('totp_last_step', '<', step).update({ totp_last_step: step });
  return updated === 1 ? row : undefined;
}
