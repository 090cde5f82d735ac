import type { IssuedCertificate } from './issue.js';

/** The JSON every route and `--json` command answers with when it hands out a certificate (docs/http-api.md). */
export const certificateResponse = (issued: IssuedCertificate) => ({
  serial: issued.serial,
  certificate: issued.certificate,
  chain: issued.chain,
  issuer: issued.issuer,
  profile: issued.profile,
  identity: issued.identity ?? null,
  subject: issued.subject,
  notBefore: issued.notBefore.toISOString(),
  notAfter: issued.notAfter.toISOString(),
});
