import { z } from 'zod';
import type { Clock } from '../../base/clock.js';
import type { CaConfig } from '../../config/ca-config.js';
import { requireCsrIdentity } from '../../ca/enroll.js';
import { certificateResponse } from '../../ca/certificate-response.js';
import { checkSecretAttempt } from '../est/authorize.js';
import type { EnrollmentPorts } from '../est/ports.js';
import type { AuthFailureGuard } from '../../alerts/auth-failures.js';
import type { DenialAudit } from '../../audit/denials.js';
import { verifyCsr } from '../../x509/csr.js';
import { HallmarkError } from '../../base/errors.js';
import { principalOf } from '../../http/authenticate.js';
import type { RouteSpec } from '../../http/routes.js';
import { parseOrThrow } from './validation.js';
import type { EnrollmentRequestRow } from '../../store/enrollments.js';
import { issuedAnswer } from './answers.js';
import { publicKeyId } from '../../x509/key-id.js';

const enrollBody = z.strictObject({ device: z.string().min(1).max(128), secret: z.string().min(1).max(128), csr: z.string().min(1).max(65536), label: z.string().max(63).optional() });
const renewBody = z.strictObject({ csr: z.string().min(1).max(65536) });

/** EST's enroll and renew for clients that speak JSON: same policy, same credentials. */
export function enrollmentRoutes(deps: { ports: EnrollmentPorts; clock: Clock; config: Pick<CaConfig, 'est'>; guard: AuthFailureGuard; denials: Pick<DenialAudit, 'record'> }): RouteSpec[] {
  return [
    {
      method: 'post',
      path: '/enroll',
      permission: 'public',
      rateLimit: 'enrollment',
      summary: 'Device enrollment with a one-time secret (the JSON twin of EST simpleenroll)',
      body: enrollBody,
      answers: { status: 201, schema: issuedAnswer, description: 'Issued (202 with {status: "pending", id, retryAfterSeconds} on a label with manual approval)' },
      example: { request: { device: 'dev-0002', secret: '<from hallmark token create>', csr: '-----BEGIN CERTIFICATE REQUEST-----\n…' } },
      jsonBody: '96kb',
      handler: async (req, res) => {
        const body = parseOrThrow(enrollBody, req.body, 'body');
        const label = body.label ?? 'default';
        const settings = deps.config.est.labels[label];
        if (!settings) throw new HallmarkError('not_found', `no enrollment label "${label}"`, 404);
        if (!settings.enroll.includes('token')) throw new HallmarkError('enrollment_refused', `label "${label}" does not enroll with secrets`, 403);
        const now = deps.clock.now();
        const token = await checkSecretAttempt({ checkSecret: deps.ports.checkSecret, guard: deps.guard, denials: deps.denials }, { device: body.device, secret: body.secret, label, source: req.ip ?? 'unknown', now, target: 'POST /api/v1/enroll' });
        const check = { token };
        const csr = await verifyCsr(body.csr);
        requireCsrIdentity(csr, body.device);
        // The label's manual approval holds this route's requests too (RFC 7030 §4.2.3's 202).
        let held: EnrollmentRequestRow | undefined;
        if (settings.manualApproval) {
          held = await deps.ports.hold({ label, device: body.device, keyId: publicKeyId(csr.spkiDer), subject: csr.subject, actor: `rest:token:${check.token.id}`, source: req.ip, now });
          if (held.status === 'pending') {
            res.set('Retry-After', String(settings.retryAfterSeconds));
            return void res.status(202).json({ status: 'pending', id: held.id, retryAfterSeconds: settings.retryAfterSeconds });
          }
          if (held.status === 'rejected') throw new HallmarkError('enrollment_rejected', `enrollment request ${held.id} was rejected by ${held.decided_by}${held.reason ? `: ${held.reason}` : ''}`, 403);
          if (held.status === 'issued') throw new HallmarkError('already_issued', `enrollment request ${held.id} was issued already (${held.certificate_serial})`, 409);
        }
        const issued = await deps.ports.enroll({ enroller: { device: body.device, secretId: check.token.id }, csr, profile: settings.profile, actor: `rest:token:${check.token.id}`, source: req.ip, heldRequest: held?.id });
        res.status(201).json(certificateResponse(issued));
      },
    },
    {
      method: 'post',
      path: '/renew',
      permission: 'enroll.self',
      summary: 'Renew (or re-key) the client certificate this request authenticates with',
      body: renewBody,
      answers: { status: 201, schema: issuedAnswer, description: 'The renewed certificate; the one presented is superseded' },
      jsonBody: '96kb',
      handler: async (req, res) => {
        const principal = principalOf(req);
        if (principal.kind !== 'certificate') throw new HallmarkError('not_a_certificate', 'renew authenticates with the certificate it renews (TLS client certificate)', 400);
        const body = parseOrThrow(renewBody, req.body, 'body');
        const current = await deps.ports.certificate(principal.id);
        const issued = await deps.ports.renew({ csr: await verifyCsr(body.csr), current: current!, actor: `rest:certificate:${principal.id}`, source: req.ip });
        res.status(201).json(certificateResponse(issued));
      },
    },
  ];
}
