import { z } from 'zod';
import { HallmarkError } from '../../base/errors.js';
import { actorName, principalOf } from '../../http/authenticate.js';
import type { RouteSpec } from '../../http/routes.js';
import { approveRelease, releaseView, releaseWithChain, signRelease, SIGNATURE_FORMATS, type ReleaseDeps } from '../../signing/releases.js';
import { chainPem, loadSigner, signerView } from '../../signing/signers.js';
import { findRelease, listReleases, listSigners } from '../../store/signing.js';
import { parseOrThrow } from './validation.js';

const signatureBody = z.strictObject({
  digestAlgorithm: z.enum(['sha256', 'sha384']).describe('the hash of the image'),
  digest: z.string().regex(/^[0-9a-fA-F]{64}([0-9a-fA-F]{32})?$/).describe('the image digest, hex; the image itself is never sent'),
  product: z.string().min(1).max(63),
  channel: z.string().min(1).max(63).optional().describe('default stable; versions rise per product and channel'),
  version: z.string().min(1).max(63).describe('one to four dot-separated numbers'),
  format: z.enum(SIGNATURE_FORMATS).optional().describe('cms (default): detached CMS SignedData; raw: the ECDSA signature over the digest'),
  metadata: z.record(z.string(), z.string()).optional(),
  timestamp: z.boolean().optional().describe('cms only: carry a time-stamp token from this TSA over the signature (RFC 3161 appendix A)'),
  rollbackOverride: z.string().min(1).max(500).optional().describe('an admin operator session only: sign a version not above every one signed, with this reason'),
});

const releaseAnswer = z.object({
  id: z.number(),
  release: z.number().describe('the release record id (the same as id)'),
  signer: z.string(),
  product: z.string(),
  channel: z.string(),
  version: z.string(),
  digestAlgorithm: z.string(),
  digest: z.string(),
  format: z.string(),
  timestamped: z.boolean(),
  status: z.enum(['pending', 'signed']).describe('pending: waiting for a second person (two-person signer)'),
  signature: z.string().optional().describe('base64 DER: the CMS ContentInfo, or the ECDSA-Sig-Value (absent while pending)'),
  signatureP1363: z.string().optional().describe('raw format: r‖s, each the curve size (base64)'),
  chain: z.array(z.string()).optional().describe('PEM: the signer certificate, then its CAs below the root'),
  metadata: z.record(z.string(), z.string()),
  rollbackOverride: z.string().optional(),
  requestedBy: z.string(),
  approvedBy: z.string().optional(),
  approvedAt: z.string().optional(),
  createdAt: z.string(),
  replayed: z.boolean().optional(),
});

const signerAnswer = z.object({
  name: z.string(),
  ca: z.string(),
  keyType: z.string(),
  twoPerson: z.boolean(),
  purpose: z.string().describe('firmware, or tsa for the time-stamping authority'),
  serial: z.string(),
  notBefore: z.string(),
  notAfter: z.string(),
  createdBy: z.string(),
  createdAt: z.string(),
  chain: z.array(z.string()).optional().describe('PEM: the signer certificate, then its CAs below the root'),
});

const releaseQuery = z.strictObject({ product: z.string().max(63).optional(), signer: z.string().max(63).optional(), limit: z.coerce.number().int().min(1).max(1000).optional() });

const releaseId = (value: unknown) => {
  const id = Number(value);
  if (!Number.isSafeInteger(id) || id < 1) throw new HallmarkError('invalid_release', 'a release id is a positive number', 400);
  return id;
};

/** Firmware signing (docs/firmware-signing.md): signers, signatures by digest, release records. */
export function signingRoutes(deps: ReleaseDeps): RouteSpec[] {
  return [
    {
      method: 'get',
      path: '/signers',
      permission: 'release.read',
      summary: 'Firmware signers: name, CA, key type, certificate validity',
      answers: { status: 200, schema: z.array(signerAnswer), description: 'Every signer' },
      handler: async (_req, res) => void res.json((await listSigners(deps.store)).map(signerView)),
    },
    {
      method: 'get',
      path: '/signers/:name',
      permission: 'release.read',
      summary: 'One signer, with its certificate chain (PEM)',
      answers: { status: 200, schema: signerAnswer, description: 'The signer and its chain' },
      handler: async (req, res) => {
        const signer = await loadSigner(deps, String(req.params.name)); // 404 when there is none
        res.json({ ...signerView(signer.row), chain: chainPem(signer.chain) });
      },
    },
    {
      method: 'post',
      path: '/signers/:name/signatures',
      permission: 'firmware.sign',
      summary: 'Sign an image by its digest: the release record first (rollback-checked, audited), then a detached CMS or raw signature',
      jsonBody: '16kb',
      body: signatureBody,
      answers: { status: 201, schema: releaseAnswer, description: 'Signed and recorded (200 with replayed: true for a digest signed before; 202 with status pending, and no signature, for a two-person signer)' },
      example: { request: { digestAlgorithm: 'sha256', digest: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', product: 'sensor-fw', version: '1.4.2', format: 'cms' } },
      handler: async (req, res) => {
        const body = parseOrThrow(signatureBody, req.body, 'body');
        const principal = principalOf(req);
        const { release, replayed } = await signRelease(deps, {
          ...body,
          signer: String(req.params.name),
          // A rollback override is a person's decision: an admin's operator session, never an API key.
          mayOverride: principal.role === 'admin' && principal.kind === 'session',
          actor: actorName(principal),
          source: req.ip,
        });
        // 202: a two-person signer's release waits for a second principal (POST /releases/<id>/approve).
        const status = release.status === 'pending' ? 202 : replayed ? 200 : 201;
        res.status(status).json({ ...(await releaseWithChain(deps, release)), ...(replayed ? { replayed } : {}) });
      },
    },
    {
      method: 'post',
      path: '/releases/:id/approve',
      permission: 'release.approve',
      summary: 'Approve a pending release of a two-person signer (not the principal who asked): the token signs it now',
      answers: { status: 200, schema: releaseAnswer, description: 'Approved and signed' },
      handler: async (req, res) => {
        const principal = principalOf(req);
        const row = await approveRelease(deps, { id: releaseId(req.params.id), actor: actorName(principal), source: req.ip });
        res.json(await releaseWithChain(deps, row));
      },
    },
    {
      method: 'get',
      path: '/releases',
      permission: 'release.read',
      summary: 'Release records, newest first (?product=, ?signer=, ?limit=)',
      query: releaseQuery,
      answers: { status: 200, schema: z.array(releaseAnswer), description: 'Release records (without chains)' },
      handler: async (req, res) => {
        const query = parseOrThrow(releaseQuery, req.query, 'query');
        const rows = await listReleases(deps.store, { product: query.product, signer: query.signer, limit: query.limit ?? 100 });
        res.json(rows.map((row) => releaseView(row)));
      },
    },
    {
      method: 'get',
      path: '/releases/:id',
      permission: 'release.read',
      summary: 'One release record with its signature and the signer chain',
      answers: { status: 200, schema: releaseAnswer, description: 'The release record' },
      handler: async (req, res) => {
        const row = await findRelease(deps.store, releaseId(req.params.id));
        if (!row) throw new HallmarkError('unknown_release', `no release ${String(req.params.id)}`, 404);
        res.json(await releaseWithChain(deps, row));
      },
    },
  ];
}
