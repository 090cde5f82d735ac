import { z } from 'zod';
import type { AuditLog } from '../../audit/log.js';
import type { Clock } from '../../base/clock.js';
import type { Store } from '../../store/handle.js';
import { decideEnrollment, enrollmentRequestView, listEnrollmentRequests } from '../../ca/enrollment-approval.js';
import { actorName, principalOf } from '../../http/authenticate.js';
import type { RouteSpec } from '../../http/routes.js';
import { enrollmentListAnswer, enrollmentRequestAnswer } from './answers.js';
import { parseOrThrow } from './validation.js';

const listQuery = z.strictObject({ status: z.enum(['pending', 'approved', 'rejected', 'issued']).optional() });
const decisionBody = z.strictObject({ reason: z.string().max(512).optional() });

/** Enrollments held for approval (RFC 7030 §4.2.3): the operators' side. */
export function enrollmentRequestRoutes(deps: { store: Store; audit: AuditLog; clock: Clock }): RouteSpec[] {
  const decide = (approve: boolean): RouteSpec => ({
    method: 'post',
    path: `/enrollments/:id/${approve ? 'approve' : 'reject'}`,
    permission: 'cert.issue',
    summary: approve ? 'Approve a held enrollment: the device gets its certificate when it repeats the request' : 'Reject a held enrollment: the device gets 403 when it repeats the request',
    jsonBody: '4kb',
    body: decisionBody,
    answers: { status: 200, schema: enrollmentRequestAnswer, description: approve ? 'Approved' : 'Rejected' },
    example: { request: approve ? {} : { reason: 'unknown device' } },
    handler: async (req, res) => {
      const body = parseOrThrow(decisionBody, req.body ?? {}, 'body');
      const row = await decideEnrollment(deps, { id: String(req.params.id), approve, reason: body.reason, actor: actorName(principalOf(req)), source: req.ip, now: deps.clock.now() });
      res.json(enrollmentRequestView(row));
    },
  });
  return [
    {
      method: 'get',
      path: '/enrollments',
      permission: 'cert.read',
      summary: 'Enrollments held for approval (status pending, approved, rejected, issued)',
      query: listQuery,
      answers: { status: 200, schema: enrollmentListAnswer, description: 'Held enrollments' },
      handler: async (req, res) => {
        const q = parseOrThrow(listQuery, req.query, 'query');
        res.json({ enrollments: (await listEnrollmentRequests(deps.store, q.status)).map(enrollmentRequestView) });
      },
    },
    decide(true),
    decide(false),
  ];
}
