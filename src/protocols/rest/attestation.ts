import { z } from 'zod';
import type { Request } from 'express';
import type { Clock } from '../../base/clock.js';
import type { CaConfig } from '../../config/ca-config.js';
import { HallmarkError } from '../../base/errors.js';
import type { AuthFailureGuard } from '../../alerts/auth-failures.js';
import type { DenialAudit } from '../../audit/denials.js';
import { actorName, principalOf } from '../../http/authenticate.js';
import type { RouteSpec } from '../../http/routes.js';
import { certificateResponse } from '../../ca/certificate-response.js';
import { checkSecretAttempt } from '../est/authorize.js';
import type { EnrollmentPorts } from '../est/ports.js';
import { openTpmChallenge, type AttestationDeps, type TpmChallenge } from '../../attestation/challenge.js';
import { redeemTpmChallenge } from '../../attestation/redeem.js';
import { issueBoundToTpm } from '../../attestation/binding.js';
import { stationProfile } from '../../factory/provision.js';
import { callingStation } from '../../factory/stations.js';
import { requestForOwnKey } from '../../x509/csr.js';
import { base64Field } from '../../x509/base64-field.js';
import { fromPemBlocks } from '../../x509/pem.js';
import { parseOrThrow } from './validation.js';
import { issuedAnswer } from './answers.js';

const b64 = (what: string) => z.string().min(1).max(16384).describe(`${what} (base64)`);
/** What a TPM shows for a challenge (TPM2B_PUBLIC files as tpm2-tools writes them with -u). */
const tpmEvidence = {
  ekCertificate: z.string().min(1).max(16384).optional().describe('The EK certificate from the TPM\'s manufacturer (PEM, or base64 DER: tpm2_nvread 0x1c00002 for an RSA EK)'),
  ekPublic: b64('The EK\'s TPM2B_PUBLIC (tpm2_createek -u)'),
  akPublic: b64('The attestation key\'s TPM2B_PUBLIC (tpm2_createak -u)'),
  keyPublic: b64('The device key\'s TPM2B_PUBLIC (tpm2_create -u)'),
};
const deviceCredential = { device: z.string().min(1).max(128), secret: z.string().min(1).max(128), label: z.string().max(63).optional() };
const deviceChallengeBody = z.strictObject({ ...deviceCredential, ...tpmEvidence });
const stationChallengeBody = z.strictObject({ deviceSerial: z.string().min(1).max(128), profile: z.string().max(63).optional(), ...tpmEvidence });
export const attestationAnswerFields = {
  challenge: z.string().min(1).max(64).describe('The challenge id'),
  activatedSecret: b64('What tpm2_activatecredential recovered (-o)'),
  attestation: b64('TPMS_ATTEST of TPM2_CertifyCreation (or TPM2_Certify) by the AK, qualifyingData = the challenge\'s nonce'),
  signature: b64('Its TPMT_SIGNATURE by the AK (tpm2-tools\' default signature format)'),
};
const enrollBody = z.strictObject({ ...deviceCredential, ...attestationAnswerFields });

const challengeAnswer = z.strictObject({
  challenge: z.string(),
  nonce: z.string().regex(/^[0-9a-f]+$/).describe('For TPM2_Certify/TPM2_CertifyCreation qualifyingData (hex: tpm2_certifycreation -q <nonce>)'),
  credential: z.string().describe('The credential in tpm2-tools\' file format (base64): base64 -d > cred.bin; tpm2_activatecredential -i cred.bin'),
  credentialBlob: z.string().describe('TPM2B_ID_OBJECT (base64), for other TPM stacks'),
  encryptedSecret: z.string().describe('TPM2B_ENCRYPTED_SECRET (base64)'),
  expiresAt: z.iso.datetime({ offset: true }),
  ek: z.strictObject({ id: z.string().describe('SHA-256 of the EK public key (hex)'), manufacturer: z.string().nullable(), model: z.string().nullable(), certified: z.boolean() }),
});

const ekCertificateOf = (value?: string): Uint8Array | undefined => {
  if (!value) return undefined;
  if (value.includes('-----BEGIN')) {
    try {
      const [der] = fromPemBlocks(value, ['CERTIFICATE']);
      if (der) return der;
    } catch {
      // reported below
    }
    throw new HallmarkError('invalid_request', 'ekCertificate is not a PEM certificate', 400);
  }
  return base64Field('ekCertificate', value);
};

const evidenceOf = (body: { ekCertificate?: string; ekPublic: string; akPublic: string; keyPublic: string }) => ({
  ekCertificate: ekCertificateOf(body.ekCertificate),
  ekPublic: base64Field('ekPublic', body.ekPublic),
  akPublic: base64Field('akPublic', body.akPublic),
  keyPublic: base64Field('keyPublic', body.keyPublic),
});

const b64out = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const challengeJson = (c: TpmChallenge) => ({
  challenge: c.id,
  nonce: Buffer.from(c.nonce).toString('hex'),
  credential: b64out(c.activationFile),
  credentialBlob: b64out(c.credentialBlob),
  encryptedSecret: b64out(c.encryptedSecret),
  expiresAt: c.expiresAt.toISOString(),
  ek: { id: c.ek.id, manufacturer: c.ek.certificate?.manufacturer ?? null, model: c.ek.certificate?.model ?? null, certified: Boolean(c.ek.certificate) },
});

export interface AttestationRouteDeps {
  attestation: AttestationDeps;
  ports: EnrollmentPorts;
  clock: Clock;
  config: Pick<CaConfig, 'est'>;
  guard: AuthFailureGuard;
  denials: Pick<DenialAudit, 'record'>;
}

/**
 * TPM-attested enrollment (docs/tpm-attestation.md): a device with its one-time secret, or a station
 * for a device on its line, asks for a challenge with the TPM's EK (and its certificate), AK and device
 * key; answers it with what the TPM recovered and the AK's attestation of the key; and gets a
 * certificate for the TPM's key. No CSR: the key never leaves the TPM.
 */
export function attestationRoutes(deps: AttestationRouteDeps): RouteSpec[] {
  /** The enrollment label's profile for a device with its one-time secret (the secret is checked, not spent). */
  const deviceLabel = async (req: Request, body: { device: string; secret: string; label?: string }) => {
    const label = body.label ?? 'default';
    const settings = deps.config.est.labels[label];
    if (!settings) throw new HallmarkError('not_found', `no enrollment label "${label}"`, 404);
    if (!settings.enroll.includes('token')) throw new HallmarkError('enrollment_refused', `label "${label}" does not enroll with secrets`, 403);
    if (settings.manualApproval) throw new HallmarkError('enrollment_refused', `label "${label}" holds enrollments for an operator's approval; attested enrollment is not held: use a label without manualApproval`, 403);
    const token = await checkSecretAttempt({ checkSecret: deps.ports.checkSecret, guard: deps.guard, denials: deps.denials }, { device: body.device, secret: body.secret, label, source: req.ip ?? 'unknown', now: deps.clock.now(), target: `POST /api/v1${req.path}` });
    return { profile: settings.profile, token };
  };
  return [
    {
      method: 'post',
      path: '/attestation/challenges',
      permission: 'public',
      rateLimit: 'enrollment',
      summary: 'A device asks for a TPM attestation challenge with its one-time secret (step 1 of attested enrollment)',
      body: deviceChallengeBody,
      answers: { status: 201, schema: challengeAnswer, description: 'The challenge: a credential for TPM2_ActivateCredential and a nonce for TPM2_CertifyCreation' },
      example: { request: { device: 'dev-0002', secret: '<from hallmark token create>', ekCertificate: '-----BEGIN CERTIFICATE-----\n…', ekPublic: '<base64 of ek.pub>', akPublic: '<base64 of ak.pub>', keyPublic: '<base64 of key.pub>' } },
      jsonBody: '96kb',
      handler: async (req, res) => {
        const body = parseOrThrow(deviceChallengeBody, req.body, 'body');
        const { profile, token } = await deviceLabel(req, body);
        const challenge = await openTpmChallenge(deps.attestation, { identity: body.device, profile, requester: `token:${token.id}`, actor: `rest:token:${token.id}`, source: req.ip, ...evidenceOf(body) });
        res.status(201).json(challengeJson(challenge));
      },
    },
    {
      method: 'post',
      path: '/attestation/enroll',
      permission: 'public',
      rateLimit: 'enrollment',
      summary: 'A device answers its challenge and gets a certificate for its TPM-resident key (step 2; the one-time secret is spent)',
      body: enrollBody,
      answers: { status: 201, schema: issuedAnswer, description: 'Issued for the TPM\'s key' },
      example: { request: { device: 'dev-0002', secret: '<the same one-time secret>', challenge: '<challenge>', activatedSecret: '<base64>', attestation: '<base64>', signature: '<base64>' } },
      jsonBody: '96kb',
      handler: async (req, res) => {
        const body = parseOrThrow(enrollBody, req.body, 'body');
        const { profile, token } = await deviceLabel(req, body);
        const actor = `rest:token:${token.id}`;
        const attested = await redeemTpmChallenge(deps.attestation, {
          challenge: body.challenge,
          identity: body.device,
          requester: `token:${token.id}`,
          actor,
          source: req.ip,
          activatedSecret: base64Field('activatedSecret', body.activatedSecret),
          attestation: base64Field('attestation', body.attestation),
          signature: base64Field('signature', body.signature),
        });
        if (attested.profile !== profile) throw new HallmarkError('invalid_request', `the challenge was made for profile "${attested.profile}", the label now enrolls "${profile}": ask for a new challenge`, 409);
        const issued = await issueBoundToTpm(deps.attestation, attested, { identity: body.device, actor, source: req.ip }, (record) =>
          deps.ports.enroll({ enroller: { device: body.device, secretId: token.id }, csr: requestForOwnKey(attested.spkiDer), profile, actor, source: req.ip, attestation: { key: attested, record } }),
        );
        res.status(201).json(certificateResponse(issued));
      },
    },
  ];
}

/** The station's half: a challenge for a device on its line; the answer comes with POST /factory/provision (`attestation`). */
export function stationAttestationRoutes(deps: { attestation: AttestationDeps }): RouteSpec[] {
  return [
    {
      method: 'post',
      path: '/factory/attestation/challenges',
      permission: 'factory.provision',
      rateLimit: 'provisioning',
      summary: 'A station asks for a TPM attestation challenge for a device on its line (its answer goes in POST /factory/provision as `attestation`)',
      body: stationChallengeBody,
      answers: { status: 201, schema: challengeAnswer, description: 'The challenge' },
      example: { request: { deviceSerial: 'SN-0001', ekCertificate: '-----BEGIN CERTIFICATE-----\n…', ekPublic: '<base64>', akPublic: '<base64>', keyPublic: '<base64>' } },
      jsonBody: '96kb',
      handler: async (req, res) => {
        const body = parseOrThrow(stationChallengeBody, req.body, 'body');
        const station = await callingStation(deps.attestation.store, principalOf(req));
        const profile = stationProfile(station, body.profile);
        const challenge = await openTpmChallenge(deps.attestation, { identity: body.deviceSerial, profile, requester: `station:${station.name}`, actor: actorName(principalOf(req)), source: req.ip, ...evidenceOf(body) });
        res.status(201).json(challengeJson(challenge));
      },
    },
  ];
}

