import { z } from 'zod';
import type { Store } from '../../store/handle.js';
import type { Clock } from '../../base/clock.js';
import type { AuditLog } from '../../audit/log.js';
import { listEnrollmentTokens } from '../../store/credentials.js';
import { createTokens, MAX_LOT, revokeTokens, TOKEN_COLUMNS, TOKEN_STATES, tokenView, type TokenAdminDeps } from '../../auth/enrollment-token-admin.js';
import { csvTable } from '../../base/csv.js';
import { HallmarkError } from '../../base/errors.js';
import { actorName, principalOf } from '../../http/authenticate.js';
import type { RouteSpec } from '../../http/routes.js';
import { parseOrThrow } from './validation.js';
import { tokenListAnswer, tokensMadeAnswer, tokensRevokedAnswer } from './answers.js';

const lotName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'letters, digits, dots, dashes and underscores');

const createBody = z
  .strictObject({
    device: z.string().min(1).max(128).optional(),
    lot: lotName.optional(),
    count: z.number().int().min(1).max(MAX_LOT).optional(),
    label: z.string().min(1).max(64).optional(),
    expiresInHours: z.number().positive().max(24 * 365).optional(),
    cmp: z.boolean().optional().describe('a secret for CMP (RFC 9483 PasswordBasedMac, senderKID = the device id): kept sealed under the token key; label names a CMP label'),
  })
  .refine((b) => Boolean(b.device) !== Boolean(b.lot), { message: 'name one device, or a lot with a count' })
  .refine((b) => !b.lot || b.count !== undefined, { message: 'a lot needs a count' })
  .refine((b) => b.lot || b.count === undefined, { message: 'count goes with lot' });

const listQuery = z.strictObject({
  device: z.string().max(128).optional(),
  lot: z.string().max(63).optional(),
  status: z.enum(TOKEN_STATES as [string, ...string[]]).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
});

/**
 * One-time EST enrollment secrets over REST, as `hallmark token` makes them: for one device or a
 * production lot (`<lot>-0001` …), the secrets in the answer only — as JSON, or as the CSV file a
 * label printer takes when the request asks for `text/csv`. Making secrets mints credentials: an
 * operator session sends a fresh authenticator code.
 */
export function tokenRoutes(deps: { store: Store; audit: AuditLog; clock: Clock; config: TokenAdminDeps['config'] & { est: { tokenExpiryHours: number } }; sealer?: TokenAdminDeps['sealer'] }): RouteSpec[] {
  return [
    {
      method: 'get',
      path: '/tokens',
      permission: 'token.manage',
      summary: 'List enrollment secrets (never the secrets): by device, lot or state, newest first',
      query: listQuery,
      answers: { status: 200, schema: tokenListAnswer, description: 'The secrets\' records' },
      handler: async (req, res) => {
        const q = parseOrThrow(listQuery, req.query, 'query');
        const now = deps.clock.now().getTime();
        const rows = await listEnrollmentTokens(deps.store, { device: q.device, lot: q.lot, state: q.status as (typeof TOKEN_STATES)[number] | undefined, limit: q.limit ?? 1000 }, now);
        res.json({ tokens: rows.map((r) => tokenView(r, now)) });
      },
    },
    {
      method: 'post',
      path: '/tokens',
      permission: 'token.manage',
      stepUp: true,
      summary: 'Make one-time enrollment secrets for a device or a lot; the secrets are in this answer only (JSON, or CSV with Accept: text/csv)',
      body: createBody,
      jsonBody: '4kb',
      answers: { status: 201, schema: tokensMadeAnswer, description: 'The secrets, shown this once' },
      example: { request: { lot: 'LOT-2026-48', count: 500, label: 'default', expiresInHours: 168 } },
      handler: async (req, res) => {
        const body = parseOrThrow(createBody, req.body, 'body');
        const now = deps.clock.now();
        const expiresAt = new Date(now.getTime() + (body.expiresInHours ?? deps.config.est.tokenExpiryHours) * 3_600_000);
        const made = await createTokens(deps, { device: body.device, lot: body.lot, count: body.count, label: body.label, expiresAt, actor: actorName(principalOf(req)), source: req.ip, now, cmp: body.cmp });
        res.set('Cache-Control', 'no-store');
        if (req.accepts(['application/json', 'text/csv']) === 'text/csv') {
          res.status(201).type('text/csv; charset=utf-8; header=present').attachment(`${body.lot ?? body.device}-secrets.csv`).send(csvTable(TOKEN_COLUMNS, made.tokens));
          return;
        }
        res.status(201).json({ lot: body.lot ?? null, count: made.tokens.length, expiresAt: made.expiresAt, tokens: made.tokens });
      },
    },
    {
      method: 'delete',
      path: '/tokens/:id',
      permission: 'token.manage',
      summary: 'Revoke one unused enrollment secret',
      answers: { status: 200, schema: tokensRevokedAnswer, description: 'Revoked' },
      handler: async (req, res) => {
        const revoked = await revokeTokens(deps, { id: String(req.params.id) }, actorName(principalOf(req)), req.ip, deps.clock.now());
        res.json({ revoked });
      },
    },
    {
      method: 'delete',
      path: '/token-lots/:lot',
      permission: 'token.manage',
      summary: 'Revoke every unused enrollment secret of a lot',
      answers: { status: 200, schema: tokensRevokedAnswer, description: 'How many were revoked' },
      handler: async (req, res) => {
        const lot = String(req.params.lot);
        if (!lotName.safeParse(lot).success) throw new HallmarkError('invalid_request', 'lot names are letters, digits, dots, dashes and underscores', 400);
        const revoked = await revokeTokens(deps, { lot }, actorName(principalOf(req)), req.ip, deps.clock.now());
        res.json({ revoked });
      },
    },
  ];
}
