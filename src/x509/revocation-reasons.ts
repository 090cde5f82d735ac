/** CRLReason (RFC 5280 §5.3.1). 7 is unused; removeFromCRL (8) only appears in delta CRLs. */
export const REASON_CODES = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;
/** removeFromCRL (RFC 5280 §5.3.1): a delta CRL's word that a certificate on hold was released. */
export const REMOVE_FROM_CRL = 8;
export type ReasonName = keyof typeof REASON_CODES;
export const REASON_NAMES = Object.keys(REASON_CODES) as ReasonName[];

/** Accepts the RFC names in any case ("keycompromise", "KeyCompromise"). */
export function parseReason(text: string): ReasonName | undefined {
  return REASON_NAMES.find((name) => name.toLowerCase() === text.trim().toLowerCase());
}
