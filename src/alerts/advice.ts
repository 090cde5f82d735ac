/** What an operator does about each alert, in a line: shown beside the alert in the console. */
export const ALERT_ADVICE: Record<string, string> = {
  'auth-failures': 'An address or credential is guessing: see `hallmark security blocks`; lift a block only once the client is fixed.',
  'account-under-attack': 'One credential is failing from many addresses: rotate it (API key or operator password) and check the audit log for its successes.',
  'revocation-burst': 'Many revocations at once: check the audit log (action certificate.revoke) for who did it and whether it was meant.',
  'station-rate': 'A station is provisioning far above its usual rate: check the line; `hallmark station disable <name>` stops it.',
  'certificate-expiry': 'A CA, responder or HTTPS certificate expires soon: for a CA, plan `hallmark ca rollover`; responders and HTTPS renew themselves while serve runs.',
  'crl-stale': 'A CRL is past its refresh point: check that serve runs and can reach the HSM (`hallmark status`), then `hallmark crl generate`.',
  'audit-sequencing': 'Audit entries wait unchained in audit_pending: check that serve runs and reaches the database (`hallmark status`, its log says why sequencing failed); nothing is lost, they are chained once it can.',
  'database-lost': 'The database file was removed or replaced while serving: restore it, then restart serve.',
  'summary-hourly': 'Information only.',
  'summary-daily': 'Information only.',
};

export const adviceFor = (rule: string | null): string => (rule && ALERT_ADVICE[rule]) || 'See docs/security-model.md, "Authentication failures" and "Alerts".';
