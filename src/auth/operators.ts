import type { SecretSealer } from '../keys/key-store.js';
import { advanceTotpStep, findOperator, insertOperator, replaceOperatorCredential, type OperatorRow as StoredOperator } from '../store/credentials.js';
import type { Handle } from '../store/handle.js';
import { HallmarkError } from '../base/errors.js';
import type { Role } from './roles.js';
import { hashPassword, passwordProblem, verifyPassword } from './passwords.js';
import { matchTotp, newTotpSecret, otpauthUri } from './totp.js';

export type OperatorRow = Omit<StoredOperator, 'role'> & { role: Role };

const totpContext = (name: string) => `hallmark/totp/${name}`;

const notFound = (name: string) => new HallmarkError('not_found', `no active operator "${name}"; see \`hallmark operator list\``, 404);

/** A new password for an operator (same strength rules as at creation); their sessions are closed. */
export async function setOperatorPassword(store: Handle, name: string, password: string, now: Date): Promise<void> {
  const problem = passwordProblem(password);
  if (problem) throw new HallmarkError('weak_password', `password refused: ${problem}`, 400);
  if (!(await replaceOperatorCredential(store, name, { password_hash: await hashPassword(password) }, now.getTime()))) throw notFound(name);
}

/**
 * A new TOTP seed for an operator who lost their authenticator; the old one stops working at once
 * and their sessions are closed. Returns the enrolment URI, to be shown once.
 */
export async function resetOperatorTotp(store: Handle, sealer: SecretSealer, name: string, now: Date): Promise<{ otpauth: string; totpSecret: Uint8Array }> {
  const secret = newTotpSecret();
  const sealed = Buffer.from(await sealer.seal(secret, totpContext(name)));
  if (!(await replaceOperatorCredential(store, name, { totp_sealed: sealed, totp_last_step: 0 }, now.getTime()))) throw notFound(name);
  return { otpauth: otpauthUri('Hallmark', name, secret), totpSecret: secret };
}

export async function createOperator(
  store: Handle,
  sealer: SecretSealer,
  options: { name: string; role: Role; password: string; createdBy: string; now: Date },
): Promise<{ otpauth: string; totpSecret: Uint8Array }> {
  if (!/^[a-z][a-z0-9._-]{1,63}$/.test(options.name)) throw new HallmarkError('invalid_name', 'operator names are 2–64 lowercase letters, digits, dots, dashes or underscores', 400);
  const problem = passwordProblem(options.password);
  if (problem) throw new HallmarkError('weak_password', `password refused: ${problem}`, 400);
  if (await findOperator(store, options.name)) throw new HallmarkError('exists', `operator "${options.name}" exists already`, 409);
  const secret = newTotpSecret();
  await insertOperator(store, {
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
 * An active operator's current authenticator code, accepted once: its step must be later than the last
 * one used (at sign-in or an earlier confirmation), advanced by compare-and-set so two racing uses of one
 * code cannot both win.
 */
async function acceptCode(store: Handle, sealer: SecretSealer, row: OperatorRow, code: string, now: Date, alsoRequired = true): Promise<boolean> {
  const secret = await sealer.open(row.totp_sealed, totpContext(row.name));
  const step = matchTotp(secret, code, now);
  if (!alsoRequired || step === undefined || step <= Number(row.totp_last_step)) return false;
  return advanceTotpStep(store, row.name, step);
}

/**
 * Password and TOTP code, both checked whatever the first one says (no early exit that would tell a
 * guesser which was wrong). A TOTP step is accepted once: replaying a code fails.
 */
export async function checkOperatorLogin(
  store: Handle,
  sealer: SecretSealer,
  login: { name: string; password: string; totp: string },
  now: Date,
): Promise<OperatorRow | undefined> {
  const row = (await findOperator(store, login.name)) as OperatorRow | undefined;
  const passwordOk = await verifyPassword(login.password, row?.password_hash ?? 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=');
  if (!row || row.disabled_at !== null) return undefined;
  // The code is checked even after a wrong password (same work either way), but only used up after a right one.
  return (await acceptCode(store, sealer, row, login.totp, now, passwordOk)) ? row : undefined;
}

/**
 * A fresh authenticator code from a signed-in operator, asked again before a high-impact action
 * (step-up): the same once-only rule as at sign-in.
 */
export async function checkFreshCode(store: Handle, sealer: SecretSealer, name: string, code: string, now: Date): Promise<boolean> {
  const row = (await findOperator(store, name)) as OperatorRow | undefined;
  if (!row || row.disabled_at !== null) return false;
  return acceptCode(store, sealer, row, code, now);
}
