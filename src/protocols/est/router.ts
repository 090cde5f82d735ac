import express, { Router, type ErrorRequestHandler, type Request, type RequestHandler } from 'express';
import { generateKeyPairSync } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { CaConfig } from '../../config/ca-config.js';
import type { AuditLog } from '../../audit/log.js';
import type { Clock } from '../../clock.js';
import type { Db } from '../../store/db.js';
import type { CertificateQueries } from '../../store/certificates.js';
import { issueCertificate, type IssueDeps, type IssuedCertificate } from '../../ca/issue.js';
import { renewCertificate, requireCsrIdentity } from '../../ca/enroll.js';
import { principalFromCertificate } from '../../auth/client-certificates.js';
import { consumeEnrollmentToken, recordTokenUse, releaseEnrollmentToken } from '../../auth/enrollment-tokens.js';
import { verifyCsr, type VerifiedCsr } from '../../x509/csr.js';
import { certsOnly } from '../../x509/pkcs7.js';
import { csrAttributes } from '../../x509/csr-attributes.js';
import { normalizeSerial } from '../../x509/serial.js';
import { HallmarkError, isHallmarkError } from '../../errors.js';
import { enrollmentCredential, type EnrollmentCredential } from './authorize.js';
import { base64Lines, decodeBase64Body, sendAsIs, sendBase64, sendPkcs7 } from './encoding.js';
import { metrics } from '../../observability/metrics.js';

export interface EstDeps {
  db: Db;
  audit: AuditLog;
  clock: Clock;
  issue: IssueDeps;
  certificates: CertificateQueries;
  config: CaConfig;
  enrollmentLimit: RequestHandler;
  log: (line: string) => void;
}

const OPERATIONS = new Set(['cacerts', 'simpleenroll', 'simplereenroll', 'csrattrs', 'serverkeygen']);

/** `/.well-known/est/<op>` is label `default`; `/.well-known/est/<label>/<op>` any configured label (RFC 7030 §3.2.2). */
function route(req: Request, config: CaConfig) {
  const parts = req.path.split('/').filter(Boolean);
  const [label, op] = parts.length === 1 ? ['default', parts[0]!] : parts.length === 2 ? [parts[0]!, parts[1]!] : ['', ''];
  if (!OPERATIONS.has(op)) throw new HallmarkError('not_found', `no EST operation ${req.path}`, 404);
  const settings = config.est.labels[label];
  if (!settings) throw new HallmarkError('not_found', `no EST label "${label}"`, 404);
  return { label, op, settings, profile: config.profiles.get(settings.profile)! };
}

function requireContentType(req: Request, type: string): void {
  if (!req.is(type)) throw new HallmarkError('unsupported_media_type', `send ${type} (base64 DER)`, 415);
}

const actorOf = (credential: EnrollmentCredential) => (credential.kind === 'token' ? `est:token:${credential.token.id}` : `est:bootstrap:${credential.serial}`);

/**
 * EST (RFC 7030, with RFC 8951's clarifications) for one CA's labels: base64 in, base64 PKCS#7 out;
 * who may enroll decided per label; errors as text/plain with the reason.
 */
export function createEstRouter(deps: EstDeps): Router {
  const router = Router();
  const body = express.text({ type: () => true, limit: '64kb' });

  // RFC 7030 §4.1.3: the current set — every generation of the issuing CA not retired (so devices
  // learn a new CA before they need it), their chains, and the roots.
  const issuerChain = (profileIssuer: string) => {
    const generations = deps.issue.issuers.generations(deps.issue.issuers.get(profileIssuer).family);
    const roots = deps.issue.issuers.list().filter((i) => i.isRoot).map((r) => r.certificate);
    const all = [...generations.flatMap((g) => g.chain), ...roots];
    return all.filter((c, i) => all.findIndex((o) => Buffer.from(o).equals(Buffer.from(c))) === i);
  };

  /** Consumes a token for exactly one issuance: given back if nothing was issued. */
  async function withCredential(credential: EnrollmentCredential, issue: () => Promise<IssuedCertificate>): Promise<IssuedCertificate> {
    if (credential.kind !== 'token') return issue();
    if (!(await consumeEnrollmentToken(deps.db, credential.token.id, deps.clock.now()))) throw new HallmarkError('enrollment_refused', 'enrollment secret was already used', 403);
    try {
      const issued = await issue();
      await recordTokenUse(deps.db, credential.token.id, issued.serial);
      return issued;
    } catch (e) {
      await releaseEnrollmentToken(deps.db, credential.token.id);
      throw e;
    }
  }

  router.get('/{*path}', async (req, res) => {
    const { op, settings, profile } = route(req, deps.config);
    if (op === 'cacerts') {
      // With the root key update certificates while two roots overlap (RFC 7030 §4.1.3).
      const now = deps.clock.now().getTime();
      const links = (await deps.db('certificates').select('der').where({ profile: 'link', status: 'active' }).where('not_after', '>', now)).map((r) => new Uint8Array(r.der));
      return sendPkcs7(res, certsOnly([...issuerChain(profile.issuer), ...links]));
    }
    if (op === 'csrattrs') {
      const attrs = csrAttributes(profile.keyTypes[0]);
      if (!attrs) return void res.status(204).end();
      return sendBase64(res, 'application/csrattrs', attrs);
    }
    void settings;
    throw new HallmarkError('method_not_allowed', `${op} takes POST`, 405);
  });

  // Enrollment latency by operation and status.
  router.use((req, res, next) => {
    const stop = metrics.enrollmentSeconds.startTimer();
    res.on('finish', () => stop({ operation: `est:${req.path.split('/').filter(Boolean).pop() ?? ''}`, status: String(res.statusCode) }));
    next();
  });

  router.post('/{*path}', deps.enrollmentLimit, body, async (req, res) => {
    const { label, op, settings, profile } = route(req, deps.config);
    if (op === 'cacerts' || op === 'csrattrs') throw new HallmarkError('method_not_allowed', `${op} takes GET`, 405);
    requireContentType(req, 'application/pkcs10');
    const now = deps.clock.now();

    if (op === 'simplereenroll') {
      // RFC 7030 §4.2.2: the client authenticates with the certificate it renews.
      const check = await principalFromCertificate(req.socket as TLSSocket, deps.certificates, deps.config.profiles, now);
      if (!check) throw new HallmarkError('unauthenticated', 'simplereenroll needs the current certificate as the TLS client certificate', 401, { challenge: 'Basic realm="hallmark-est"' });
      if (!check.ok) throw new HallmarkError('renewal_refused', check.reason, 403);
      const current = await deps.certificates.get(normalizeSerial(check.principal.id)!);
      const csr = await verifyCsr(decodeBase64Body(req.body));
      const issued = await renewCertificate(deps.issue, { csr, current: current!, policy: deps.config.est.renewal, actor: `est:certificate:${current!.serial}`, source: req.ip });
      return sendPkcs7(res, certsOnly([issued.der]));
    }

    const credential = await enrollmentCredential(req, { db: deps.db, label, allowed: settings.enroll, bootstrapCas: deps.config.est.bootstrapCaCertificates, now });
    const csr = await verifyCsr(decodeBase64Body(req.body));
    requireCsrIdentity(csr, credential.device);

    if (op === 'simpleenroll') {
      const issued = await withCredential(credential, () => issueCertificate(deps.issue, { csr, profile: profile.name, identity: credential.device, actor: actorOf(credential), source: req.ip }));
      return sendPkcs7(res, certsOnly([issued.der]));
    }

    // serverkeygen (RFC 7030 §4.4): the key is made here, returned once over TLS, and never stored.
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spkiDer = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
    const forServerKey: VerifiedCsr = { ...csr, spkiDer, keyType: 'ec-p256' };
    const issued = await withCredential(credential, () => issueCertificate(deps.issue, { csr: forServerKey, profile: profile.name, identity: credential.device, actor: actorOf(credential), source: req.ip }));
    await deps.audit.record({ actor: actorOf(credential), action: 'certificate.serverkeygen', target: issued.serial, outcome: 'success', source: req.ip, details: { device: credential.device, keyType: 'ec-p256', keyStored: false } });
    const boundary = `hallmark-est-${issued.serial}`;
    const part = (type: string, der: Uint8Array) => `--${boundary}\r\nContent-Type: ${type}\r\nContent-Transfer-Encoding: base64\r\n\r\n${base64Lines(der)}`;
    sendAsIs(
      res,
      { 'Content-Type': `multipart/mixed; boundary=${boundary}` },
      part('application/pkcs8', new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' }))) + part('application/pkcs7-mime; smime-type=certs-only', certsOnly([issued.der])) + `--${boundary}--\r\n`,
    );
  });

  const errors: ErrorRequestHandler = (err, _req, res, _next) => {
    const status = isHallmarkError(err) ? err.status : (err as { type?: string }).type === 'entity.too.large' ? 413 : 500;
    if (isHallmarkError(err) && typeof err.details?.challenge === 'string') res.set('WWW-Authenticate', err.details.challenge);
    if (status >= 500) deps.log(`EST error: ${(err as Error)?.stack ?? err}`);
    res.status(status).type('text/plain').send(`${status >= 500 && !isHallmarkError(err) ? 'internal error' : (err as Error).message}\n`);
  };
  router.use(errors);
  return router;
}
