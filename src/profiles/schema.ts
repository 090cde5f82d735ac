import { z } from 'zod';
import { KEY_TYPES } from '../x509/key-types.js';
import { ROLES } from '../auth/roles.js';
import { mintsAuthority, REST_KINDS } from './requester.js';

export const KEY_USAGES = [
  'digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement',
] as const;
export const EXTENDED_KEY_USAGES = ['serverAuth', 'clientAuth', 'codeSigning', 'emailProtection', 'timeStamping', 'OCSPSigning', 'cmcRA'] as const;

const regex = z.string().refine((s) => {
  try {
    new RegExp(s);
    return true;
  } catch {
    return false;
  }
}, 'not a valid regular expression');

/** `{id}` is the identity (device id, station name); `{csr.CN}` the CSR's common name. */
const template = z.string().min(1).max(256);

/**
 * A certificate profile: data, validated at load. It bounds what a CSR may obtain; nothing in a CSR
 * can widen it (rules in ./rules enforce that).
 */
export const profileSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/).describe('The profile\'s name, as requests give it (--profile, "profile")'),
  description: z.string().optional().describe('For people'),
  issuer: z.string().describe('The CA that signs it (a name from cas)'),
  keyTypes: z.array(z.enum(KEY_TYPES)).min(1).describe('Key types a CSR may carry; serverkeygen makes the CSR\'s type when listed, else the first'),
  validity: z
    .strictObject({
      defaultDays: z.number().int().positive().describe('Validity when the request asks for none'),
      maxDays: z.number().int().positive().describe('The most a request may ask for'),
      backdateSeconds: z.number().int().min(0).max(86400).default(60).describe('Backdating notBefore absorbs clock skew on devices (RFC 5280 allows any notBefore).'),
    })
    .refine((v) => v.defaultDays <= v.maxDays, 'defaultDays must not exceed maxDays'),
  keyUsage: z.array(z.enum(KEY_USAGES)).min(1).describe('keyUsage of the certificate, whatever the CSR asks'),
  extendedKeyUsage: z.array(z.enum(EXTENDED_KEY_USAGES)).default([]).describe('extendedKeyUsage of the certificate, whatever the CSR asks'),
  identity: z.strictObject({
    required: z.boolean().describe('Every request names an identity (device id, station name)'),
    pattern: regex.default('^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$').describe('Identities must match it (token create and provisioning check it too)'),
  }),
  subject: z.partialRecord(z.enum(['CN', 'O', 'OU', 'C', 'L', 'ST', 'serialNumber']), template).describe('The subject, from templates: {id} is the identity, {csr.CN} the CSR\'s common name'),
  subjectAltName: z
    .strictObject({
      add: z.array(z.string().regex(/^(dns|uri|ip|email):.+$/, 'write as dns:…, uri:…, ip:… or email:…')).default([]).describe('Names always added, e.g. `uri:urn:dev:hallmark:{id}`.'),
      /** Names a CSR may request: a regex per type, or absent to refuse that type. */
      fromCsr: z
        .strictObject({
          dns: regex.optional().describe('DNS names a CSR may request match this regular expression (absent: none)'),
          uri: regex.optional().describe('URIs a CSR may request match this (absent: none)'),
          ip: z.boolean().default(false).describe('IP addresses a CSR may request'),
          email: regex.optional().describe('e-mail addresses a CSR may request match this (absent: none)'),
          serviceNames: z.boolean().default(false).describe('DNS names and addresses listed in the configuration\'s `tlsNames` are accepted (Hallmark\'s own service names).'),
        })
        .default({ ip: false, serviceNames: false }),
      maxNames: z.number().int().min(0).max(100).default(8).describe('The most names a CSR may request (each type counted; the subject\'s CN of a server profile too).'),
      wildcards: z.boolean().default(false).describe('`*.` wildcard DNS names (and CN) are refused unless this is set.'),
    })
    .default({ add: [], fromCsr: { ip: false, serviceNames: false }, maxNames: 8, wildcards: false }),
  /**
   * Who may ask for certificates of this profile (docs/security-model.md, "Issuance policy"): device enrollment (EST
   * labels, /api/v1/enroll), a certificate renewing itself, provisioning stations, the local CLI, and
   * REST principals by role and kind. Hallmark's own issuance (responders, its TLS) is always allowed.
   */
  requesters: z
    .strictObject({
      enrollment: z.boolean().default(false).describe('Devices enrolling (EST labels, /api/v1/enroll)'),
      renewal: z.boolean().default(false).describe('A certificate of this profile renewing itself'),
      station: z.boolean().default(false).describe('Provisioning stations'),
      cli: z.boolean().default(true).describe('The local CLI (hallmark cert issue)'),
      rest: z
        .strictObject({ roles: z.array(z.enum(ROLES)).default([]).describe('REST principals of these roles (POST /api/v1/certificates)'), kinds: z.array(z.enum(REST_KINDS)).default([...REST_KINDS]).describe('and of these kinds of credential') })
        .default({ roles: ['admin'], kinds: [...REST_KINDS] }),
    })
    .default({ enrollment: false, renewal: false, station: false, cli: true, rest: { roles: ['admin'], kinds: [...REST_KINDS] } }),
  /**
   * Certificates of this profile act for Hallmark or carry authority (see requester.ts mintsAuthority,
   * which also infers it from the role and usages). Only the CLI, Hallmark itself, and from REST an
   * admin session or an admin API key scoped for cert.authority may obtain one.
   */
  products: z
    .array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}\*?$/, 'a product name, or a prefix ending in *'))
    .min(1)
    .optional()
    .describe('Firmware signers certified under this profile sign releases of these products only (their product line; `sensor-*` matches by prefix). Absent: any product.'),
  attestation: z
    .strictObject({
      required: z.boolean().default(false).describe('Certificates of this profile go only to keys proven to live in a TPM (attested enrollment, docs/tpm-attestation.md): no CSR obtains one, on any path (REST, EST, CMP, factory, CLI).'),
      ekCertificate: z.enum(['required', 'optional']).default('required').describe('required: the TPM shows its manufacturer\'s EK certificate, chaining to attestation.tpmRoots; optional: a bare EK is accepted too (its trust is then whoever vouches for the device: a station, a one-time secret).'),
      hardwareModuleName: z.boolean().default(false).describe('The certificate names the TPM in its subjectAltName: a HardwareModuleName otherName (RFC 4108 §5) with hwType 2.23.133.1.2 (TPM 2.0) and the TCG hwSerialNum, as 802.1AR IDevIDs do.'),
    })
    .optional()
    .describe('TPM attestation for this profile (absent: attested keys are accepted like any other, and nothing requires them).'),
  authority: z.boolean().default(false).describe('Certificates of this profile carry authority: only the CLI, Hallmark itself and admins over REST may obtain one (also inferred from role and usages)'),
  role: z.enum(ROLES).optional().describe('A TLS client certificate from this profile authenticates its holder in this role.'),
  ocspNoCheck: z.boolean().default(false).describe('id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1), for delegated OCSP responders only.'),
  revocationPointers: z.boolean().default(true).describe('Carry the CRL distribution point and AIA pointers; false leaves them out (the OCSP responder\'s own certificate needs none).'),
}).superRefine((profile, ctx) => {
  // A renewal carries a CSR, which proves nothing about where its key lives: attested identities renew by attesting again.
  if (profile.attestation?.required && profile.requesters.renewal) ctx.addIssue({ code: 'custom', path: ['requesters', 'renewal'], message: `profile "${profile.name}" requires TPM attestation: a CSR renewal cannot prove where the key lives; set requesters.renewal: false (devices renew by attesting again)` });
  if (!mintsAuthority(profile)) return;
  // Never reachable from a device-facing or station-facing route, and from REST by admins only.
  for (const kind of ['enrollment', 'renewal', 'station'] as const) {
    if (profile.requesters[kind]) ctx.addIssue({ code: 'custom', path: ['requesters', kind], message: `profile "${profile.name}" mints authority (role, server, responder or signing usage): ${kind} may not request it` });
  }
  const lesser = profile.requesters.rest.roles.filter((r) => r !== 'admin');
  if (lesser.length) ctx.addIssue({ code: 'custom', path: ['requesters', 'rest', 'roles'], message: `profile "${profile.name}" mints authority: only admin may request it over REST, not ${lesser.join(', ')}` });
});

export type Profile = z.infer<typeof profileSchema>;
