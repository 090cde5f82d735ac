import express, { type Express } from 'express';
import type { AppContext } from '../context.js';
import type { IssueDeps } from '../ca/issue.js';
import { authenticate } from './authenticate.js';
import { errorHandler, sendError } from './errors.js';
import { securityHeaders } from './security-headers.js';
import { createCertificatesRouter } from '../protocols/rest/certificates.js';
import { createCasRouter } from '../protocols/rest/cas.js';

/** The HTTPS application: REST under /api/v1 (EST joins it under /.well-known/est). */
export function createHttpsApp(ctx: AppContext, issue: IssueDeps, log: (line: string) => void): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(securityHeaders);

  const api = express.Router();
  api.use(authenticate({ db: ctx.db, audit: ctx.audit, clock: ctx.clock }));
  api.use('/cas', createCasRouter(ctx.cas));
  api.use('/certificates', createCertificatesRouter({ issue, certificates: ctx.certificates }));
  app.use('/api/v1', api);

  app.use((req, res) => sendError(res, 404, 'not_found', `no route ${req.method} ${req.path}`));
  app.use(errorHandler(log));
  return app;
}
