import type { Store } from '../../store/handle.js';
import { z } from 'zod';
import { issueCertificate, type IssueDeps } from '../../ca/issue.js';
import { certificateResponse } from '../../ca/certificate-response.js';
import { certificateView } from '../../ca/certificate-view.js';
import type { CertificateFilter, CertificateQueries } from '../../store/certificates.js';
import { HallmarkError } from '../../base/errors.js';
import { normalizeSerial } from '../../x509/serial.js';
import { actorName, principalOf } from '../../http/authenticate.js';
import type { RouteSpec } from '../../http/routes.js';
import { parseOrThrow } from './validation.js';
import { requesterOf } from '../../profiles/requester.js';
import { certificateAnswer, certificateListAnswer, issuedAnswer, renewalAllowedAnswer } from './answers.js';
import { allowRenewal } from '../../ca/renewal-grants.js';

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

export function certificateRoutes(deps: { store: Store; issue: IssueDeps; certificates: CertificateQueries }): RouteSpec[] {
  return [
    {
      method: 'post',
      path: '/certificates',
      permission: 'cert.issue',
      summary: 'Issue a certificate from a PKCS#10 CSR under a profile',
      body: issueBody,
      answers: { status: 201, schema: issuedAnswer, description: 'Issued, recorded before it was returned' },
      example: { request: { csr: '-----BEGIN CERTIFICATE REQUEST-----\n…\n-----END CERTIFICATE REQUEST-----\n', profile: 'device', device: 'dev-0001', validityDays: 365 } },
      jsonBody: '96kb',
      handler: async (req, res) => {
        const body = parseOrThrow(issueBody, req.body, 'body');
        const issued = await issueCertificate(deps.issue, {
          csr: body.csr,
          profile: body.profile,
          identity: body.device,
          validityDays: body.validityDays,
          requester: requesterOf(principalOf(req)),
          actor: actorName(principalOf(req)),
          source: req.ip,
        });
        res.status(201).location(`/api/v1/certificates/${issued.serial}`).json(certificateResponse(issued));
      },
    },
    {
      method: 'get',
      path: '/certificates',
      permission: 'cert.read',
      summary: 'List certificates (status, device, issuer, expiring within days)',
      query: listQuery,
      answers: { status: 200, schema: certificateListAnswer, description: 'Certificates, newest first' },
      handler: async (req, res) => {
        const q = parseOrThrow(listQuery, req.query, 'query');
        const filter: CertificateFilter = { status: q.status, identity: q.device, issuer: q.issuer, expiringWithinDays: q.expiring, limit: q.limit, offset: q.offset };
        const now = deps.issue.clock.now();
        res.json({ certificates: (await deps.certificates.list(filter, now)).map((r) => certificateView(r, now)) });
      },
    },
    {
      method: 'post',
      path: '/certificates/:serial/allow-renewal',
      permission: 'cert.issue',
      summary: 'Let this certificate renew now, before its renewal window opens (once)',
      answers: { status: 200, schema: renewalAllowedAnswer, description: 'This certificate may renew once, now' },
      handler: async (req, res) => {
        const serial = normalizeSerial(String(req.params.serial));
        if (!serial) throw new HallmarkError('invalid_serial', 'serial must be hex (colons allowed)', 400);
        await allowRenewal({ store: deps.store, audit: deps.issue.audit }, { serial, actor: actorName(principalOf(req)), source: req.ip, now: deps.issue.clock.now() });
        res.json({ serial, renewalAllowed: true });
      },
    },
    {
      method: 'get',
      path: '/certificates/:serial',
      permission: 'cert.read',
      summary: 'One certificate with its PEM',
      answers: { status: 200, schema: certificateAnswer, description: 'One certificate, with its PEM and what openssl reads in it' },
      handler: async (req, res) => {
        const serial = normalizeSerial(String(req.params.serial));
        if (!serial) throw new HallmarkError('invalid_serial', 'serial must be hex (colons allowed)', 400);
        const row = await deps.certificates.get(serial);
        if (!row) throw new HallmarkError('not_found', `no certificate with serial ${serial}`, 404);
        res.json(certificateView(row, deps.issue.clock.now(), true));
      },
    },
  ];
}
