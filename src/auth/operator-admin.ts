import { inTransaction, type Store } from '../store/handle.js';
import { disableOperator, listOperators } from '../store/credentials.js';
import { createOperator, resetOperatorTotp, type OperatorRow } from './operators.js';
import { base32 } from './totp.js';
import type { Role } from './roles.js';
import type { SecretSealer } from '../keys/key-store.js';
import type { AuditLog } from '../audit/log.js';
import { HallmarkError } from '../base/errors.js';

/**
 * Operators' accounts as an administrator manages them, from the CLI (`hallmark operator`) and REST
 * (`/api/v1/operators`): each change and its audit entry in one transaction.
 */

export interface OperatorAdminDeps {
  store: Store;
  audit: AuditLog;
}

/** Who asks, and from where: the audit entry's actor and source. */
export interface Asker {
  actor: string;
  source: string | undefined;
}

export const operatorView = (row: OperatorRow) => ({
  name: row.name,
  role: row.role,
  createdBy: row.created_by,
  createdAt: new Date(Number(row.created_at)).toISOString(),
  state: row.disabled_at === null ? ('active' as const) : ('disabled' as const),
});

export const listOperatorViews = async (store: Store) => ((await listOperators(store)) as OperatorRow[]).map(operatorView);

/** The enrolment an operator's authenticator app needs, shown once (the seed is stored only sealed). */
const enrolment = (name: string, made: { otpauth: string; totpSecret: Uint8Array }) => ({ name, otpauth: made.otpauth, totpSecret: base32(made.totpSecret) });

export async function addOperator(deps: OperatorAdminDeps, sealer: SecretSealer, request: { name: string; role: Role; password: string; now: Date } & Asker) {
  const made = await inTransaction(deps.store, async (trx) => {
    const op = await createOperator(trx, sealer, { name: request.name, role: request.role, password: request.password, createdBy: request.actor, now: request.now });
    await deps.audit.recordIn(trx, { actor: request.actor, action: 'operator.create', target: request.name, outcome: 'success', source: request.source, details: { role: request.role } });
    return op;
  });
  return { ...enrolment(request.name, made), role: request.role };
}

/** A new authenticator seed: the old one stops working and the operator's sessions are closed. */
export async function resetAuthenticator(deps: OperatorAdminDeps, sealer: SecretSealer, name: string, asker: Asker, now: Date) {
  const made = await inTransaction(deps.store, async (trx) => {
    const reset = await resetOperatorTotp(trx, sealer, name, now);
    await deps.audit.recordIn(trx, { actor: asker.actor, action: 'operator.totp-reset', target: name, outcome: 'success', source: asker.source });
    return reset;
  });
  return enrolment(name, made);
}

/** Disables an active operator and closes their sessions at once; 404 when there is none by that name. */
export async function disableOperatorAccount(deps: OperatorAdminDeps, name: string, asker: Asker, now: Date): Promise<void> {
  const done = await inTransaction(deps.store, async (trx) => {
    const disabled = await disableOperator(trx, name, now.getTime());
    if (disabled) await deps.audit.recordIn(trx, { actor: asker.actor, action: 'operator.disable', target: name, outcome: 'success', source: asker.source });
    return disabled;
  });
  if (!done) throw new HallmarkError('not_found', `no active operator "${name}"; see \`hallmark operator list\``, 404);
}
