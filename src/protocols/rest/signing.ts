import { z } from 'zod';
import { HallmarkError } from '../../base/errors.js';
import { actorName, principalOf } from '../../http/authenticate.js';
import type { RouteSpec } from '../../http/routes.js';
import { maySignWith } from '../../auth/principal.js';
import type { RevokeDeps } from '../../ca/revoke.js';
import { approveRelease, rejectRelease, releaseView, releaseWithChain, signRelease, SIGNATURE_FORMATS, type ReleaseDeps } from '../../signing/releases.js';
import { DEFAULT_OVERLAP_DAYS, retireSigner, revokeSigner, rolloverSigner, SIGNER_REVOCATION_REASONS } from '../../signing/signer-lifecycle.js';
import { chainPem, createSigner, keyChain, requireSigner, SIGNER_KEY_TYPES, SIGNER_NAME, signerView, signerWithKeys } from '../../signing/signers.js';
import { findRelease, listReleases, listSigners } from '../../store/signing.js';
import { parseOrThrow } from './validation.js';

const signatureBody = z.strictObject({
  digestAlgorithm: z.enum(['sha256', 'sha384']).describe('the hash of the image'),
  digest: z.string().regex(/^[0-9a-fA-F]{64}([0-9a-fA-F]{32})?$/).describe('the image digest, hex; the image itself is never sent'),
  product: z.string().min(1).max(63),
  channel: z.string().min(1).max(63).optional().describe('default stable; versions rise per product and channel'),
  version: z.string().min(1).max(63).describe('one to four dot-separated numbers'),
  format: z.enum(SIGNATURE_FORMATS).optional().describe("cms (default): detached CMS SignedData; raw: the signature over the digest (ECDSA; RSA keys: RSASSA-PSS, MGF1 with the digest's hash, salt its length)"),
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
  status: z.enum(['pending', 'signed', 'rejected']).describe('pending: waiting for a second person (two-person signer); rejected: refused by one, or its signer was retired or revoked first'),
  signature: z.string().optional().describe('base64: the CMS ContentInfo (DER), the ECDSA-Sig-Value (DER), or the RSASSA-PSS signature (absent while pending)'),
  signatureP1363: z.string().optional().describe('raw format by an ECDSA key: r‖s, each the curve size (base64)'),
  chain: z.array(z.string()).optional().describe('PEM: the signer certificate, then its CAs below the root'),
  metadata: z.record(z.string(), z.string()),
  rollbackOverride: z.string().optional(),
  requestedBy: z.string(),
  signerSerial: z.string().optional().describe('the certificate whose key signed it'),
  rejectedBy: z.string().optional(),
  rejectedAt: z.string().optional(),
  rejectionReason: z.string().optional(),
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
  status: z.enum(['active', 'retired', 'revoked']).describe('active: signs; retired: for good; revoked: until a rollover gives it a new key'),
  generation: z.number().describe('how many keys the signer has had'),
  serial: z.string(),
  notBefore: z.string(),
  notAfter: z.string(),
  createdBy: z.string(),
  createdAt: z.string(),
  chain: z.array(z.string()).optional().describe('PEM: the signer certificate, then its CAs below the root'),
  previousKeys: z
    .array(
      z.object({
        serial: z.string(),
        generation: z.number(),
        state: z.enum(['overlap', 'superseded', 'revoked']).describe('overlap: verifiable until verifiableUntil; superseded: its certificate revoked as superseded after the overlap; revoked: replaced after a revocation'),
        notAfter: z.string(),
        replacedAt: z.string(),
        verifiableUntil: z.string().optional(),
        chain: z.array(z.string()),
      }),
    )
    .optional()
    .describe('keys replaced by rollovers, newest first'),
});

const createSignerBody = z.strictObject({
  name: z.string().regex(SIGNER_NAME).describe('lowercase letters, digits and dashes'),
  profile: z.string().max(63).optional().describe('default firmware-signer'),
  ca: z.string().max(63).optional().describe("default: the profile's issuer"),
  keyType: z.enum(SIGNER_KEY_TYPES).optional(),
  twoPerson: z.boolean().optional().describe('a release signs only after a second principal approves it'),
});
const rolloverBody = z.strictObject({
  overlapDays: z.number().int().min(0).max(3650).optional().describe(`how long the replaced key's certificate stays verifiable (default ${DEFAULT_OVERLAP_DAYS}); then it is revoked as superseded`),
  keyType: z.enum(SIGNER_KEY_TYPES).optional().describe("default: the current key's type"),
});
const revokeSignerBody = z.strictObject({
  reason: z.enum(SIGNER_REVOCATION_REASONS),
  invalidityDate: z.string().datetime({ offset: true }).optional().describe('keyCompromise: since when its signatures are in doubt (RFC 5280 §5.3.2)'),
});
const rejectBody = z.strictObject({ reason: z.string().min(1).max(500) });
const lifecycleAnswer = z.object({ signer: z.string(), serial: z.string() }).passthrough();

const releaseQuery = z.strictObject({ product: z.string().max(63).optional(), signer: z.string().max(63).optional(), limit: z.coerce.number().int().min(1).max(1000).optional() });

/**
 * A signer's certificate certifies a key Hallmark made on the token itself, never a CSR sent over REST
 * (the firmware-signer profile refuses REST requesters): the issuance is Hallmark's own, asked for by a
 * person (the routes are session-only, with a fresh authenticator code).
 */
const SIGNER_KEY_REQUESTER = { kind: 'system' } as const;

const releaseId = (value: unknown) => {
  const id = Number(value);
  if (!Number.isSafeInteger(id) || id < 1) throw new HallmarkError('invalid_release', 'a release id is a positive number', 400);
  return id;
};

/** Firmware signing (docs/firmware-signing.md): signers, signatures by digest, release records. */
export function signingRoutes(deps: ReleaseDeps & { revocation: RevokeDeps }): RouteSpec[] {
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
        res.json(await signerWithKeys(deps, await requireSigner(deps.store, String(req.params.name)))); // 404 when there is none
      },
    },
    {
      method: 'post',
      path: '/signers',
      permission: 'signer.manage',
      sessionOnly: true,
      stepUp: true,
      summary: 'Create a signer: a key on the token and its code-signing certificate (admin)',
      jsonBody: '4kb',
      body: createSignerBody,
      answers: { status: 201, schema: signerAnswer, description: 'The signer and its chain' },
      example: { request: { name: 'sensor-fw', keyType: 'ec-p256', twoPerson: true } },
      handler: async (req, res) => {
        const body = parseOrThrow(createSignerBody, req.body, 'body');
        const principal = principalOf(req);
        const row = await createSigner(deps, { ...body, requester: SIGNER_KEY_REQUESTER, actor: actorName(principal), source: req.ip });
        res.status(201).json({ ...signerView(row), chain: chainPem(keyChain(deps, row)) });
      },
    },
    {
      method: 'post',
      path: '/signers/:name/rollover',
      permission: 'signer.manage',
      sessionOnly: true,
      stepUp: true,
      summary: "A new key and certificate for the signer; the replaced key is destroyed, its certificate verifiable for the overlap, then revoked as superseded",
      jsonBody: '4kb',
      body: rolloverBody,
      answers: { status: 200, schema: lifecycleAnswer, description: 'The new generation: serial, notAfter, replaced, verifiableUntil' },
      handler: async (req, res) => {
        const body = parseOrThrow(rolloverBody, req.body ?? {}, 'body');
        const principal = principalOf(req);
        res.json(await rolloverSigner(deps, { name: String(req.params.name), ...body, requester: SIGNER_KEY_REQUESTER, actor: actorName(principal), source: req.ip }));
      },
    },
    {
      method: 'post',
      path: '/signers/:name/retire',
      permission: 'signer.manage',
      stepUp: true,
      summary: 'Retire a signer for good: its key destroyed, its pending releases rejected; what it signed stays verifiable until its certificate expires',
      answers: { status: 200, schema: lifecycleAnswer, description: 'Retired: serial, rejectedReleases' },
      handler: async (req, res) => {
        const principal = principalOf(req);
        res.json(await retireSigner(deps, { name: String(req.params.name), actor: actorName(principal), source: req.ip }));
      },
    },
    {
      method: 'post',
      path: '/signers/:name/revoke',
      permission: 'signer.manage',
      stepUp: true,
      summary: "Revoke a signer's certificate (keyCompromise, …): key destroyed, pending releases rejected, the releases it signed listed; a rollover gives it a new key",
      jsonBody: '4kb',
      body: revokeSignerBody,
      answers: { status: 200, schema: lifecycleAnswer, description: 'Revoked: reason, rejectedReleases, releasesSigned (to sign again)' },
      handler: async (req, res) => {
        const body = parseOrThrow(revokeSignerBody, req.body, 'body');
        const principal = principalOf(req);
        res.json(await revokeSigner(deps, { name: String(req.params.name), reason: body.reason, invalidityDate: body.invalidityDate ? new Date(body.invalidityDate) : undefined, actor: actorName(principal), source: req.ip }));
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
        const scoped = maySignWith(principal, String(req.params.name));
        if (!scoped.allowed) throw new HallmarkError('forbidden', scoped.reason, 403);
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
      method: 'post',
      path: '/releases/:id/reject',
      permission: 'release.approve',
      summary: 'Reject a pending release, with a reason: it is never signed and holds back no later version',
      jsonBody: '4kb',
      body: rejectBody,
      answers: { status: 200, schema: releaseAnswer, description: 'Rejected' },
      handler: async (req, res) => {
        const body = parseOrThrow(rejectBody, req.body, 'body');
        const principal = principalOf(req);
        const row = await rejectRelease(deps, { id: releaseId(req.params.id), reason: body.reason, actor: actorName(principal), source: req.ip });
        res.json(releaseView(row));
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
