import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The process's metrics (Prometheus text format at /metrics on the plain-HTTP listener). One process
 * serves one CA, so one registry per process; tests read deltas.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'hallmark_' });

let crlAges: () => Map<string, number> = () => new Map();
/** Where the CRL age gauge reads the served CRLs' ages from (the running server's CRL cache). */
export function measureCrlAgesWith(probe: () => Map<string, number>): void {
  crlAges = probe;
}

const buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export const metrics = {
  certificatesIssued: new Counter({ name: 'hallmark_certificates_issued_total', help: 'Certificates issued, by profile and outcome', labelNames: ['profile', 'outcome'], registers: [registry] }),
  certificatesRevoked: new Counter({ name: 'hallmark_certificates_revoked_total', help: 'Revocations, by reason', labelNames: ['reason'], registers: [registry] }),
  enrollmentSeconds: new Histogram({ name: 'hallmark_enrollment_duration_seconds', help: 'EST and REST enrollment latency, by operation and status', labelNames: ['operation', 'status'], buckets, registers: [registry] }),
  ocspSeconds: new Histogram({ name: 'hallmark_ocsp_duration_seconds', help: 'OCSP latency, by cache outcome', labelNames: ['cache'], buckets, registers: [registry] }),
  ocspCache: new Counter({ name: 'hallmark_ocsp_cache_total', help: 'OCSP answers by where they came from: hit (cached by request), presigned (pre-produced, RFC 5019), miss (signed live)', labelNames: ['outcome'], registers: [registry] }),
  hsmSignSeconds: new Histogram({ name: 'hallmark_hsm_sign_duration_seconds', help: 'PKCS#11 signature latency', buckets, registers: [registry] }),
  hsmErrors: new Counter({ name: 'hallmark_hsm_errors_total', help: 'PKCS#11 operations that failed, by operation', labelNames: ['operation'], registers: [registry] }),
  crlAgeSeconds: new Gauge({
    name: 'hallmark_crl_age_seconds',
    help: 'Seconds since thisUpdate of the CRL served, per CA',
    labelNames: ['ca'],
    registers: [registry],
    // Read when collected; across `serve --workers`, the oldest CRL any worker serves.
    aggregator: 'max',
    collect() {
      this.reset();
      for (const [ca, seconds] of crlAges()) this.set({ ca }, seconds);
    },
  }),
  rateLimited: new Counter({ name: 'hallmark_rate_limited_total', help: 'Requests refused with 429, by route group', labelNames: ['group'], registers: [registry] }),
  authFailures: new Counter({ name: 'hallmark_auth_failures_total', help: 'Authentication failures, by kind', labelNames: ['kind'], registers: [registry] }),
};
