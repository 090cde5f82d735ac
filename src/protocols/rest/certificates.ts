import express, { Router } from 'express';
import { z } from 'zod';
import { issueCertificate, type IssueDeps } from '../../ca/issue.js';
import { certificateResponse } from '../../ca/certificate-response.js';
import { certificateView } from '../../ca/certificate-view.js';
import type { CertificateFilter, CertificateQueries } from '../../store/certificates.js';
import { HallmarkError } from '../../errors.js';
import { normalizeSerial } from '../../x509/serial.js';
import { actorName, principalOf, requirePermission } from '../../http/authenticate.js';
import { describeZodError } from '../../config/schema-errors.js';

const issueBody = z.strictObject({
  csr: z.string().min(1).max(65536),
  profile: z.string().min(1).max(63),
  device: z.string().min(1).max(128).optional(),
  validityDays: z.number().int().positive().optional(),
});

const listQuery = z.strictObject({
  status: z.enum(['active', 'revoked', 'expired', 'pending', 'failed']).optional(),
  device: z.string().max(128).optional(),
  issuer: z.string().max(63).optional(),
  expiring: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  offset: z.coerce.number().int().min(0).optional(),
});

export function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new HallmarkError('invalid_request', describeZodError(where, parsed.error), 400);
  return parsed.data;
}

export function createCertificatesRouter(deps: { issue: IssueDeps; certificates: CertificateQueries }): Router {
  const router = Router();
  router.post('/', requirePermission('cert.issue'), express.json({ limit: '96kb' }), async (req, res) => {
    if (!req.is('application/json')) throw new HallmarkError('unsupported_media_type', 'send the request as application/json', 415);
    const body = parseOrThrow(issueBody, req.body, 'body');
    const issued = await issueCertificate(deps.issue, {
      csr: body.csr,
      profile: body.profile,
      identity: body.device,
      validityDays: body.validityDays,
      actor: actorName(principalOf(req)),
      source: req.ip,
    });
    res.status(201).location(`/api/v1/certificates/${issued.serial}`).json(certificateResponse(issued));
  });
  router.get('/', requirePermission('cert.read'), async (req, res) => {
    const q = parseOrThrow(listQuery, req.query, 'query');
    const filter: CertificateFilter = { status: q.status, identity: q.device, issuer: q.issuer, expiringWithinDays: q.expiring, limit: q.limit, offset: q.offset };
    const now = deps.issue.clock.now();
    res.json({ certificates: (await deps.certificates.list(filter, now)).map((r) => certificateView(r, now)) });
  });
  router.get('/:serial', requirePermission('cert.read'), async (req, res) => {
    const serial = normalizeSerial(String(req.params.serial));
    if (!serial) throw new HallmarkError('invalid_serial', 'serial must be hex (colons allowed)', 400);
    const row = await deps.certificates.get(serial);
    if (!row) throw new HallmarkError('not_found', `no certificate with serial ${serial}`, 404);
    res.json(certificateView(row, deps.issue.clock.now(), true));
  });
  return router;
}
