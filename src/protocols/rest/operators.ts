import { z } from 'zod';
import type { Store } from '../../store/handle.js';
import type { Clock } from '../../base/clock.js';
import type { AuditLog } from '../../audit/log.js';
import type { SecretSealer } from '../../keys/key-store.js';
import { addOperator, disableOperatorAccount, listOperatorViews, resetAuthenticator } from '../../auth/operator-admin.js';
import { refuseWiderGrant } from '../../auth/no-escalation.js';
import { ROLES } from '../../auth/roles.js';
import { HallmarkError } from '../../base/errors.js';
import { actorName, principalOf } from '../../http/authenticate.js';
import type { RouteSpec } from '../../http/routes.js';
import { parseOrThrow } from './validation.js';
import { operatorDisabledAnswer, operatorEnrolmentAnswer, operatorListAnswer } from './answers.js';

/** People sign in to the console: the roles an operator account may have. */
const OPERATOR_ROLES = ROLES.filter((r) => r === 'admin' || r === 'operator' || r === 'read-only') as ['admin', 'operator', 'read-only'];

const createBody = z.strictObject({
  name: z.string().min(2).max(64),
  role: z.enum(OPERATOR_ROLES),
  password: z.string().min(1).max(1024).describe('The first password (the strength rules of `hallmark operator add`)'),
});

/**
 * Operators' accounts (operator.manage, high-impact: admins only, and a session sends a fresh
 * authenticator code with each change). The new seed is in the answer only; nobody can disable their
 * own account here (the CLI, which holds the database, can).
 */
export function operatorRoutes(deps: { store: Store; audit: AuditLog; clock: Clock; sealer: SecretSealer }): RouteSpec[] {
  const asker = (req: Parameters<RouteSpec['handler']>[0]) => ({ actor: actorName(principalOf(req)), source: req.ip });
  const name = (req: Parameters<RouteSpec['handler']>[0]) => String(req.params.name);
  return [
    {
      method: 'get',
      path: '/operators',
      permission: 'operator.manage',
      summary: 'List operators (never their passwords or seeds)',
      answers: { status: 200, schema: operatorListAnswer, description: 'Every operator' },
      handler: async (_req, res) => void res.json({ operators: await listOperatorViews(deps.store) }),
    },
    {
      method: 'post',
      path: '/operators',
      permission: 'operator.manage',
      stepUp: true,
      summary: 'Create an operator; their authenticator seed is in this answer only',
      body: createBody,
      jsonBody: '4kb',
      answers: { status: 201, schema: operatorEnrolmentAnswer, description: 'The otpauth:// URI, shown this once' },
      example: { request: { name: 'dana', role: 'operator', password: '…' } },
      handler: async (req, res) => {
        const body = parseOrThrow(createBody, req.body, 'body');
        // An account holds its role's permissions for good: nothing the caller lacks, and no expiring key makes one.
        refuseWiderGrant(principalOf(req), { role: body.role });
        const made = await addOperator(deps, deps.sealer, { ...body, ...asker(req), now: deps.clock.now() });
        res.set('Cache-Control', 'no-store');
        res.status(201).json(made);
      },
    },
    {
      method: 'post',
      path: '/operators/:name/disable',
      permission: 'operator.manage',
      stepUp: true,
      summary: 'Disable an operator; their sessions end at once',
      answers: { status: 200, schema: operatorDisabledAnswer, description: 'Disabled' },
      handler: async (req, res) => {
        const principal = principalOf(req);
        if (principal.kind === 'session' && principal.name === name(req)) throw new HallmarkError('self', 'you cannot disable your own account; another admin (or `hallmark operator disable`) can', 409);
        await disableOperatorAccount(deps, name(req), asker(req), deps.clock.now());
        res.json({ name: name(req), state: 'disabled' });
      },
    },
    {
      method: 'post',
      path: '/operators/:name/reset-totp',
      permission: 'operator.manage',
      stepUp: true,
      summary: 'A new authenticator seed for an operator who lost theirs; their sessions end, the seed is in this answer only',
      answers: { status: 200, schema: operatorEnrolmentAnswer, description: 'The otpauth:// URI, shown this once' },
      handler: async (req, res) => {
        const reset = await resetAuthenticator(deps, deps.sealer, name(req), asker(req), deps.clock.now());
        res.set('Cache-Control', 'no-store');
        res.json(reset);
      },
    },
  ];
}
