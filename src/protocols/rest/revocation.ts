import { z } from 'zod';
import { releaseHold, revokeCertificate, type RevokeDeps } from '../../ca/revoke.js';
import { REASON_NAMES, parseReason } from '../../x509/revocation-reasons.js';
import { HallmarkError } from '../../base/errors.js';
import { normalizeSerial } from '../../x509/serial.js';
import { actorName, principalOf } from '../../http/authenticate.js';
import type { RouteSpec } from '../../http/routes.js';
import { releasedAnswer, revokedAnswer } from './answers.js';
import { parseOrThrow } from './validation.js';

const revokeBody = z.strictObject({
  reason: z.string().min(1).max(40),
  invalidityDate: z.iso.datetime({ offset: true }).optional(),
});

const serialParam = (value: unknown) => {
  const serial = normalizeSerial(String(value));
  if (!serial) throw new HallmarkError('invalid_serial', 'serial must be hex (colons allowed)', 400);
  return serial;
};

export function revocationRoutes(deps: RevokeDeps): RouteSpec[] {
  return [
    {
      method: 'post',
      path: '/certificates/:serial/revoke',
      permission: 'cert.revoke',
      summary: 'Revoke a certificate with an RFC 5280 reason (and optional invalidity date)',
      body: revokeBody,
      answers: { status: 200, schema: revokedAnswer, description: 'Revoked; CRL and OCSP follow within seconds' },
      example: { request: { reason: 'keyCompromise' } },
      jsonBody: '4kb',
      handler: async (req, res) => {
        const body = parseOrThrow(revokeBody, req.body, 'body');
        const reason = parseReason(body.reason);
        if (!reason) throw new HallmarkError('invalid_reason', `unknown reason "${body.reason}"; one of ${REASON_NAMES.join(', ')}`, 400);
        const done = await revokeCertificate(deps, {
          serial: serialParam(req.params.serial),
          reason,
          invalidityDate: body.invalidityDate ? new Date(body.invalidityDate) : undefined,
          actor: actorName(principalOf(req)),
          source: req.ip,
        });
        res.json({ serial: done.serial, status: 'revoked', reason: done.reason, revokedAt: done.revokedAt.toISOString() });
      },
    },
    {
      method: 'post',
      path: '/certificates/:serial/release',
      permission: 'cert.revoke',
      summary: 'Release a certificateHold: the certificate is good again',
      answers: { status: 200, schema: releasedAnswer, description: 'Released from certificateHold' },
      handler: async (req, res) => {
        const done = await releaseHold(deps, { serial: serialParam(req.params.serial), actor: actorName(principalOf(req)), source: req.ip });
        res.json({ serial: done.serial, status: 'active' });
      },
    },
  ];
}
