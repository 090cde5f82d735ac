import express, { Router, type RequestHandler } from 'express';
import { HallmarkError } from '../../base/errors.js';
import { answerCmp, type CmpDeps } from './server.js';

/** RFC 6712 §3.4: CMP messages travel as application/pkixcmp, both ways. */
const CMP_TYPE = 'application/pkixcmp';

/**
 * CMP over HTTP (RFC 6712) at /.well-known/cmp and /.well-known/cmp/p/<label> (RFC 9483 §6.1): POST
 * only, the body one DER PKIMessage of at most 64 KiB. A CMP-level refusal is an `error` PKIMessage with
 * status 200, as the client expects one; only what is not CMP at all (method, content type, size,
 * unknown label) is an HTTP error.
 */
export function cmpRouter(deps: CmpDeps, guards: RequestHandler[]): Router {
  const router = Router();
  const serve: RequestHandler = async (req, res, next) => {
    try {
      const label = String(req.params.label ?? 'default');
      if (!deps.config.labels[label]) throw new HallmarkError('unknown_label', `no CMP label "${label}" (cmp.labels in the CA configuration)`, 404);
      if (!req.is(CMP_TYPE)) throw new HallmarkError('unsupported_media_type', `send the PKIMessage as ${CMP_TYPE} (RFC 6712 §3.4)`, 415);
      const body = req.body as Buffer;
      if (!Buffer.isBuffer(body) || body.length === 0) throw new HallmarkError('empty_body', 'the request carries no PKIMessage', 400);
      const answer = await answerCmp(deps, label, new Uint8Array(body), req.ip);
      res.status(200).type(CMP_TYPE).set('cache-control', 'no-store').send(Buffer.from(answer));
    } catch (e) {
      next(e);
    }
  };
  const raw = express.raw({ type: () => true, limit: '64kb' });
  router.post(['/', '/p/:label'], ...guards, raw, serve);
  router.all(['/', '/p/:label'], (_req, res) => void res.status(405).set('allow', 'POST').json({ error: { code: 'method_not_allowed', message: 'CMP takes POST (RFC 6712 §3.4)' } }));
  return router;
}
