import type { Profile } from '../schema.js';
import type { VerifiedCsr } from '../../x509/csr.js';
import type { SubjectNames } from '../../x509/extensions.js';
import type { HardwareModule } from '../../x509/hardware-module-name.js';
import type { AttributeName } from '../../x509/names.js';
import { HallmarkError } from '../../base/errors.js';
import type { Requester } from '../requester.js';
import type { AttestedKey } from '../../attestation/attested-key.js';

export interface IssuanceRequest {
  csr: VerifiedCsr;
  profile: Profile;
  /** Device id, station name, …: what `{id}` in the profile stands for. */
  identity?: string;
  validityDays?: number;
  /** Who asks: the profile decides whether they may (rules/requester-allowed.ts). */
  requester: Requester;
  /** The key was proven to live in a TPM (attestation/redeem.ts); absent for a CSR or a server-made key. */
  attestation?: AttestedKey;
}

/** The certificate as the rules shape it, before it becomes DER. */
export interface Draft {
  subject: [AttributeName, string][];
  names: SubjectNames;
  /** Hardware modules the certificate names (a TPM's HardwareModuleName, RFC 4108), in the SAN after the names. */
  hardwareModules?: HardwareModule[];
  notBefore: Date;
  notAfter: Date;
}

export interface RuleContext {
  now: Date;
  issuer: { name: string; notBefore: Date; notAfter: Date };
  /** The configuration's `tlsNames`: the names a profile with `fromCsr.serviceNames` accepts. */
  serviceNames: readonly string[];
}

/**
 * Profile policy as a list of small rules: `csr` rules refuse what a request may not ask
 * for, `shape` rules fill the draft from the profile, `final` rules check the result.
 */
export type Rule =
  | { name: string; kind: 'csr'; check(request: IssuanceRequest, context: RuleContext): void }
  | { name: string; kind: 'shape'; apply(draft: Draft, request: IssuanceRequest, context: RuleContext): void }
  | { name: string; kind: 'final'; check(draft: Draft, request: IssuanceRequest, context: RuleContext): void };

export function policyViolation(rule: string, profile: Profile, message: string): HallmarkError {
  return new HallmarkError('policy_violation', `profile "${profile.name}" refuses this request: ${message}`, 400, { rule });
}
