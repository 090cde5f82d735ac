import { attestationRequired } from './attestation-required.js';
import { hardwareModuleName } from './hardware-module-name.js';
import { identityFormat } from './identity-format.js';
import { keyTypeAllowed } from './key-type-allowed.js';
import { keyQuality } from './key-quality.js';
import { namesFromProfile } from './names-from-profile.js';
import { namesWithinProfile } from './names-within-profile.js';
import { noCaRequest } from './no-ca-request.js';
import { namesCharacterSet } from './names-character-set.js';
import { requesterAllowed } from './requester-allowed.js';
import { validityWithinCredential } from './validity-within-credential.js';
import { subjectFromProfile } from './subject-from-profile.js';
import { usagesWithinProfile } from './usages-within-profile.js';
import { validityFromProfile } from './validity-from-profile.js';
import { validityInsideIssuer } from './validity-inside-issuer.js';
import { validityWithinProfile } from './validity-within-profile.js';
import type { Draft, IssuanceRequest, Rule, RuleContext } from './types.js';

export type { Draft, IssuanceRequest, RuleContext } from './types.js';

/** Order matters only within a kind; all csr rules run before any shape rule, then the final ones. */
export const RULES: Rule[] = [
  requesterAllowed,
  attestationRequired,
  keyTypeAllowed,
  keyQuality,
  noCaRequest,
  usagesWithinProfile,
  identityFormat,
  namesWithinProfile,
  validityWithinProfile,
  subjectFromProfile,
  namesFromProfile,
  hardwareModuleName,
  validityFromProfile,
  validityWithinCredential,
  validityInsideIssuer,
  namesCharacterSet,
];

/** Runs the profile policy over a request; returns the draft or throws the first violation. */
export function applyProfile(request: IssuanceRequest, context: RuleContext, rules: Rule[] = RULES): Draft {
  const draft: Draft = { subject: [], names: { dns: [], uri: [], ip: [], email: [] }, notBefore: context.now, notAfter: context.now };
  for (const rule of rules) if (rule.kind === 'csr') rule.check(request, context);
  for (const rule of rules) if (rule.kind === 'shape') rule.apply(draft, request, context);
  for (const rule of rules) if (rule.kind === 'final') rule.check(draft, request, context);
  return draft;
}
