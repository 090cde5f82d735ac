import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import YAML from 'yaml';
import { readEnvironment } from '../../src/config/env.js';
import { openContext, type AppContext } from '../../src/app/context.js';
import { initializeCa, type InitResult } from '../../src/ca/init.js';
import { startHallmark, type RunningHallmark } from '../../src/app/server.js';
import { toPem } from '../../src/x509/pem.js';
import type { Clock } from '../../src/base/clock.js';
import type { Backend } from './backends.js';
import type { TestHome } from './hsm.js';
import { ROOT } from './paths.js';

/** A clock the test moves by hand. */
export function manualClock(start = new Date()): Clock & { advance(ms: number): void; set(at: Date): void } {
  let now = start.getTime();
  return { now: () => new Date(now), advance: (ms) => void (now += ms), set: (at) => void (now = at.getTime()) };
}

/** A copy of ca-config/ with `edit` applied to hallmark.yaml; returns the path of the copy. */
export function configCopy(dir: string, edit: (config: Record<string, any>) => void): string {
  fs.cpSync(path.join(ROOT, 'ca-config'), dir, { recursive: true });
  const file = path.join(dir, 'hallmark.yaml');
  const config = YAML.parse(fs.readFileSync(file, 'utf8'));
  edit(config);
  fs.writeFileSync(file, YAML.stringify(config));
  return file;
}

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json(): any;
}

export interface InProcessHallmark {
  ctx: AppContext;
  running: RunningHallmark;
  init: InitResult;
  rootPem: string;
  log: string[];
  request(method: string, apiPath: string, options?: { token?: string; body?: unknown; rawBody?: string; contentType?: string; cert?: string; key?: string; host?: string; headers?: Record<string, string>; localAddress?: string }): Promise<Response>;
  close(): Promise<void>;
}

/** `hallmark serve`'s own start-up, in this process, on free loopback ports: a real HTTPS server. */
export async function startInProcess(home: TestHome, backend: Backend, tokenLabel: string, options: { configFile?: string; clock?: Clock; httpPort?: number } = {}): Promise<InProcessHallmark> {
  const dataHome = path.join(home.home, `data-${tokenLabel}`);
  const env = readEnvironment({ ...home.env, HALLMARK_HOME: dataHome, HALLMARK_PKCS11_TOKEN: tokenLabel, DATABASE_URL: backend.url, HALLMARK_CONFIG: options.configFile });
  const ctx = await openContext({ env, withKeys: true, create: true, schema: backend.schema, clock: options.clock });
  const init = await initializeCa({ store: ctx.store, keys: ctx.keys!, cas: ctx.cas, audit: ctx.audit, clock: ctx.clock, config: ctx.config, tokenLabel });
  const log: string[] = [];
  const running = await startHallmark(ctx, { host: '127.0.0.1', httpsPort: 0, httpPort: options.httpPort ?? 0, log: (line) => log.push(line) });
  const rootPem = toPem(running.issue.issuers.get('root').certificate, 'CERTIFICATE');

  const request: InProcessHallmark['request'] = (method, apiPath, o = {}) =>
    new Promise((resolve, reject) => {
      const body = o.rawBody ?? (o.body === undefined ? undefined : JSON.stringify(o.body));
      const headers: Record<string, string> = { ...o.headers };
      if (o.token) headers.authorization = `Bearer ${o.token}`;
      if (body !== undefined) {
        headers['content-type'] = o.contentType ?? 'application/json';
        headers['content-length'] = String(Buffer.byteLength(body));
      }
      const req = https.request(
        { host: '127.0.0.1', servername: o.host ?? 'localhost', port: running.https, method, path: apiPath.startsWith('/') ? apiPath : `/api/v1/${apiPath}`, headers, ca: rootPem, cert: o.cert, key: o.key, agent: false, localAddress: o.localAddress },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({ status: res.statusCode!, headers: res.headers, body: text, json: () => JSON.parse(text) });
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  return {
    ctx,
    running,
    init,
    rootPem,
    log,
    request,
    async close() {
      await running.close();
      await ctx.close();
    },
  };
}

/** The root, the issuing CA and the two as one chain, as PEM files in `dir` for openssl and brokers. */
export function writeChainFiles(hm: InProcessHallmark, dir: string): { rootFile: string; issuingFile: string; chainFile: string } {
  const files = { rootFile: path.join(dir, 'root.pem'), issuingFile: path.join(dir, 'issuing.pem'), chainFile: path.join(dir, 'chain.pem') };
  const issuing = toPem(hm.running.issue.issuers.get('issuing').certificate, 'CERTIFICATE');
  fs.writeFileSync(files.rootFile, hm.rootPem);
  fs.writeFileSync(files.issuingFile, issuing);
  fs.writeFileSync(files.chainFile, hm.rootPem + issuing);
  return files;
}
