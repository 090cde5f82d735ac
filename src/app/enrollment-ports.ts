import type { AppContext } from './context.js';
import type { IssueDeps } from '../ca/issue.js';
import type { EnrollmentPorts } from '../protocols/est/ports.js';
import { checkEnrollmentToken } from '../auth/enrollment-tokens.js';
import { enrollDevice } from '../ca/enrollment.js';
import { renewCertificate } from '../ca/enroll.js';
import { enrollmentDecision } from '../ca/enrollment-approval.js';
import { createCaCertsAnswer } from '../protocols/est/cacerts.js';

/** Enrollment's ports (EST and its REST twin), bound to this instance's store, CA and configuration. */
export function enrollmentPorts(ctx: AppContext, issue: IssueDeps): EnrollmentPorts {
  // RFC 7030 §4.1.3: the current set, kept between requests (cacerts.ts); as fresh as the status poll.
  const cacerts = createCaCertsAnswer({ store: ctx.store, issuers: issue.issuers, clock: ctx.clock, maxAgeMs: ctx.config.revocation.ocsp.pollSeconds * 1000 });
  return {
    cacerts,
    checkSecret: (device, secret, label, now) => checkEnrollmentToken(ctx.store, device, secret, label, now),
    enroll: (input) => enrollDevice({ issue, store: ctx.store }, input),
    renew: (input) => renewCertificate(issue, { ...input, policy: ctx.config.est.renewal }),
    hold: (request) => enrollmentDecision({ store: ctx.store, audit: ctx.audit }, request),
    certificate: (serial) => ctx.certificates.get(serial),
    audit: (event) => ctx.audit.record(event),
  };
}
