import fs from 'node:fs';
import path from 'node:path';
import { readEnvironment } from '../../src/config/env.js';
import { issuingDeps, openContext, type AppContext } from '../../src/app/context.js';
import { initializeCa, type InitResult } from '../../src/ca/init.js';
import type { IssueDeps } from '../../src/ca/issue.js';
import type { Clock } from '../../src/base/clock.js';
import { toPem } from '../../src/x509/pem.js';
import type { Backend } from './backends.js';
import type { TestHome } from './hsm.js';

export interface TestCa {
  ctx: AppContext;
  issue: IssueDeps;
  init: InitResult;
  /** PEM files for openssl: the root alone (trust anchor) and the issuing CA (untrusted intermediate). */
  rootFile: string;
  issuingFile: string;
  close(): Promise<void>;
}

/** An initialised CA on `backend`, with its keys on token `tokenLabel` of the test home. */
export async function startTestCa(home: TestHome, backend: Backend, tokenLabel: string, clock?: Clock): Promise<TestCa> {
  const env = readEnvironment({ ...home.env, HALLMARK_PKCS11_TOKEN: tokenLabel, DATABASE_URL: backend.url });
  const ctx = await openContext({ env, withKeys: true, create: true, schema: backend.schema, clock });
  const init = await initializeCa({ store: ctx.store, keys: ctx.keys!, cas: ctx.cas, audit: ctx.audit, clock: ctx.clock, config: ctx.config, tokenLabel });
  const issue = await issuingDeps(ctx);
  const dir = path.join(home.home, `${backend.name}-${tokenLabel}`);
  fs.mkdirSync(dir, { recursive: true });
  const rootFile = path.join(dir, 'root.pem');
  const issuingFile = path.join(dir, 'issuing.pem');
  fs.writeFileSync(rootFile, toPem(issue.issuers.get('root').certificate, 'CERTIFICATE'));
  fs.writeFileSync(issuingFile, toPem(issue.issuers.get('issuing').certificate, 'CERTIFICATE'));
  return { ctx, issue, init, rootFile, issuingFile, close: () => ctx.close() };
}
