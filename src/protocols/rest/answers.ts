import { z } from 'zod';

/**
 * What the REST routes answer, as schemas: the OpenAPI description is made from them, and
 * test/openapi.test.ts holds real answers to that description.
 */

const iso = z.iso.datetime({ offset: true }).describe('ISO 8601 time');
const pem = z.string().startsWith('-----BEGIN ').describe('PEM');
const serial = z.string().regex(/^[0-9a-f]+$/).describe('Serial number, lowercase hex');

export const issuedAnswer = z.strictObject({
  serial,
  certificate: pem,
  chain: z.array(pem).describe('Issuing CA up to (not including) the root'),
  issuer: z.string(),
  profile: z.string(),
  identity: z.string().nullable(),
  subject: z.string(),
  notBefore: iso,
  notAfter: iso,
});

export const provisionedAnswer = z.strictObject({
  deviceSerial: z.string(),
  serial,
  certificate: pem,
  chain: z.array(pem),
  repeated: z.boolean().describe('true: this device already had this identity (a retry); 200 instead of 201'),
  encryptedKey: pem.optional().describe('keygen: the device key, encrypted PKCS#8 (PBES2, AES-256)'),
  keyPassphrase: z.string().optional().describe('keygen: its passphrase (the one given, or a one-time one)'),
});

export const batchAnswer = z.strictObject({
  results: z.array(
    z.union([
      provisionedAnswer,
      z.strictObject({ deviceSerial: z.string().nullable(), error: z.strictObject({ code: z.string(), message: z.string() }) }),
    ]),
  ),
});

export const pendingAnswer = z.strictObject({ status: z.literal('pending'), id: z.string(), retryAfterSeconds: z.number().int() });

const decoded = z.strictObject({
  subject: z.string(),
  issuer: z.string(),
  serialNumber: z.string(),
  validFrom: iso,
  validTo: iso,
  subjectAltName: z.string().nullable(),
  keyUsage: z.array(z.string()).describe('keyUsage bits by name, e.g. digitalSignature'),
  extendedKeyUsage: z.array(z.string()).describe('extendedKeyUsage purposes by name, e.g. clientAuth'),
  publicKey: z.string(),
  fingerprintSha256: z.string(),
  ca: z.boolean(),
});

export const certificateAnswer = z.strictObject({
  serial,
  status: z.enum(['pending', 'active', 'expired', 'revoked', 'failed']),
  issuer: z.string(),
  profile: z.string(),
  identity: z.string().nullable(),
  subject: z.string(),
  keyType: z.string(),
  notBefore: iso,
  notAfter: iso,
  issuedAt: iso.nullable(),
  requestedBy: z.string(),
  revokedAt: iso.nullable(),
  revocationReason: z.string().nullable(),
  certificate: pem.nullable().optional(),
  decoded: decoded.nullable().optional(),
});

export const certificateListAnswer = z.strictObject({ certificates: z.array(certificateAnswer) });

export const caAnswer = z.strictObject({
  name: z.string(),
  parent: z.string().nullable(),
  subject: z.string(),
  serial,
  keyType: z.string(),
  keyUri: z.string().describe('pkcs11: URI of the key on the token'),
  notBefore: iso,
  notAfter: iso,
  status: z.string(),
  family: z.string().describe('The CA\'s family: its generations share it (rollover)'),
  activeFrom: iso.nullable().describe('When this generation starts (or started) issuing'),
  retiredAt: iso.nullable(),
  signatureAlgorithm: z.string(),
  certificate: pem.optional(),
});

export const caListAnswer = z.strictObject({ cas: z.array(caAnswer) });

export const revokedAnswer = z.strictObject({ serial, status: z.literal('revoked'), reason: z.string(), revokedAt: iso });
export const releasedAnswer = z.strictObject({ serial, status: z.literal('active') });
export const renewalAllowedAnswer = z.strictObject({ serial, renewalAllowed: z.literal(true) });

export const sessionAnswer = z.strictObject({
  token: z.string().describe('Bearer token (hms_…)'),
  expiresAt: iso,
  idleTimeoutSeconds: z.number().int(),
  role: z.string().optional(),
});

export const whoamiAnswer = z.strictObject({
  kind: z.enum(['apikey', 'session', 'certificate']),
  id: z.string().optional(),
  name: z.string(),
  role: z.string(),
  scopes: z.array(z.string()).nullable().optional(),
});

export const apiKeyAnswer = z.strictObject({
  id: z.string(),
  role: z.string(),
  label: z.string().nullable(),
  scopes: z.array(z.string()).nullable(),
  createdBy: z.string(),
  createdAt: iso,
  expiresAt: iso.nullable(),
  revokedAt: iso.nullable(),
  state: z.enum(['active', 'expired', 'revoked']),
  apiKey: z.string().optional().describe('The key itself, in the answer to its creation only'),
});

export const apiKeyListAnswer = z.strictObject({ apiKeys: z.array(apiKeyAnswer) });

export const auditEntryAnswer = z.strictObject({
  seq: z.number().int(),
  at: iso,
  actor: z.string(),
  action: z.string(),
  target: z.string().nullable(),
  outcome: z.string(),
  source: z.string().nullable(),
  details: z.record(z.string(), z.unknown()).nullable(),
  prevHash: z.string(),
  hash: z.string(),
});

export const auditListAnswer = z.strictObject({
  entries: z.array(
    auditEntryAnswer.extend({
      actorName: z.string().nullable().describe('The actor as people know it: a station, a key\'s label, a certificate\'s identity'),
      finalOutcome: z.enum(['success', 'failure', 'pending']).describe('For an issuance logged as pending: what became of the certificate'),
    }),
  ),
});
export const auditVerifyAnswer = z.looseObject({ ok: z.boolean() });
export const checkpointAnswer = z.strictObject({ seq: z.number().int(), hash: z.string(), at: iso });

export const enrollmentRequestAnswer = z.strictObject({
  id: z.string(),
  label: z.string(),
  device: z.string(),
  subject: z.string(),
  status: z.enum(['pending', 'approved', 'rejected', 'issued']),
  requestedBy: z.string(),
  source: z.string().nullable(),
  requestedAt: iso,
  decidedBy: z.string().nullable(),
  decidedAt: iso.nullable(),
  reason: z.string().nullable(),
  certificateSerial: z.string().nullable(),
});

export const enrollmentListAnswer = z.strictObject({ enrollments: z.array(enrollmentRequestAnswer) });

/** The console's read models: their top level is fixed, their inside grows with the console. */
export const overviewAnswer = z.looseObject({
  counts: z.strictObject({
    activeCertificates: z.number().int(),
    expiringIn30Days: z.number().int().describe('Certificates an operator must see renewed (service certificates that renew themselves apart)'),
    selfRenewingExpiringIn30Days: z.number().int(),
    revokedCertificates: z.number().int(),
    factoryDevices: z.number().int(),
    stations: z.number().int(),
  }),
  cas: z.array(z.looseObject({ name: z.string() })),
  alerts: z.array(z.looseObject({ severity: z.enum(['info', 'warning', 'critical']), advice: z.string() })),
});
export const chartsAnswer = z.looseObject({});
const deviceAnswer = z.strictObject({
  serial: z.string().describe('The device id (its certificates\' identity)'),
  via: z.string().describe('How it got its first identity: factory, est (secret), est (IDevID), rest enroll, rest, cli'),
  state: z.string(),
  line: z.string().nullable(),
  station: z.string().nullable(),
  lot: z.string().nullable(),
  model: z.string().nullable(),
  firmwareVersion: z.string().nullable(),
  provisionedAt: iso.nullable(),
  certificates: z.number().int().describe('Certificates it has had'),
  certificate: z.strictObject({ serial, status: z.string(), notAfter: iso, revocationReason: z.string().nullable(), profile: z.string() }).nullable().describe('The newest'),
});

export const deviceDetailsAnswer = deviceAnswer.extend({
  lastSeen: z
    .strictObject({ ocsp: iso.nullable().describe('A relying party last asked OCSP about one of its certificates'), renewal: iso.nullable().describe('It last renewed its certificate') })
    .describe('When the device was last seen, where known'),
  reprovisionAllowed: z.boolean().nullable().describe('For a factory device: whether the next provisioning may replace its identity'),
  tpm: z.string().nullable().describe('For a factory device attested with its TPM: the EK\'s id (SHA-256 of its public key, hex)'),
  history: z.array(
    z.strictObject({
      serial,
      status: z.string(),
      profile: z.string(),
      issuer: z.string(),
      issuedAt: iso.nullable(),
      notAfter: iso.nullable(),
      requestedBy: z.string(),
      revokedAt: iso.nullable(),
      revocationReason: z.string().nullable(),
      supersededBy: z.string().nullable(),
    }),
  ),
  records: z.array(z.strictObject({ at: iso, station: z.string(), line: z.string(), lot: z.string(), model: z.string(), firmwareVersion: z.string(), certificateSerial: z.string() })),
});

export const reprovisionAnswer = z.strictObject({ serial: z.string(), reprovisionAllowed: z.literal(true) });

export const devicesAnswer = z.strictObject({
  devices: z.array(deviceAnswer),
  next: z.string().optional().describe('When present, more may follow: ask again with after=<next>'),
});
export const stationsAnswer = z.looseObject({ stations: z.array(z.looseObject({ name: z.string(), line: z.string(), lastHour: z.number().int() })) });
export const stationDisabledAnswer = z.strictObject({ name: z.string(), state: z.literal('disabled') });
export const stationAddedAnswer = z.strictObject({
  name: z.string(),
  line: z.string(),
  apiKey: z.string().describe('The station\'s API key (hmk_…), in this answer only'),
  apiKeyId: z.string(),
  certificateSerial: serial,
  certificate: z.string().describe('The station\'s client certificate and its chain, PEM'),
  privateKey: z.string().describe('The client certificate\'s key (PKCS#8 PEM), in this answer only'),
});

const tokenState = z.enum(['unused', 'used', 'expired', 'revoked']);
export const tokenListAnswer = z.strictObject({
  tokens: z.array(
    z.strictObject({
      id: z.string(),
      device: z.string(),
      use: z.enum(['est', 'cmp']).describe('est: HTTP Basic (EST, /api/v1/enroll); cmp: a MAC (CMP)'),
      label: z.string(),
      lot: z.string().nullable(),
      state: tokenState,
      expiresAt: iso.nullable(),
      usedAt: iso.nullable(),
      usedFor: z.string().nullable().describe('The serial of the certificate it enrolled'),
      createdBy: z.string(),
      revokedBy: z.string().nullable(),
    }),
  ),
});
export const tokensMadeAnswer = z.strictObject({
  lot: z.string().nullable(),
  count: z.number().int(),
  expiresAt: iso,
  tokens: z.array(z.strictObject({ device: z.string(), secret: z.string().describe('HTTP Basic password for EST, shown once'), id: z.string(), label: z.string().nullable(), expiresAt: iso })),
});
export const tokensRevokedAnswer = z.strictObject({ revoked: z.number().int() });

export const operatorAnswer = z.strictObject({ name: z.string(), role: z.string(), createdBy: z.string(), createdAt: iso, state: z.enum(['active', 'disabled']) });
export const operatorListAnswer = z.strictObject({ operators: z.array(operatorAnswer) });
export const operatorEnrolmentAnswer = z.strictObject({
  name: z.string(),
  role: z.string().optional(),
  otpauth: z.string().describe('otpauth:// URI for an authenticator app, shown once'),
  totpSecret: z.string().describe('The same seed in base32, shown once'),
});
export const operatorDisabledAnswer = z.strictObject({ name: z.string(), state: z.literal('disabled') });
