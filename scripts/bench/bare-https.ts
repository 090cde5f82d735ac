/**
 * The floor under the floor (scripts/bench/issue): a bare node:https server with Hallmark's TLS
 * options (src/http/tls-options.ts: the same certificate, suites and client-certificate request) that
 * answers every request with one fixed answer, and nothing else: no routing, log, headers, database or
 * encoding. What Node's HTTPS costs per request on this machine, measured with the same clients.
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { httpsOptions } from '../../src/http/tls-options.js';
import { processCpuSeconds } from './proc-stat.js';

export interface BareHttps {
  port: number;
  /** CPU seconds this process has used so far (the server runs in it). */
  cpuSeconds(): number;
  close(): Promise<void>;
}

export async function bareHttps(material: { key: string; cert: string }, trustedCas: string[], answer: { headers: Record<string, string>; body: Buffer }): Promise<BareHttps> {
  const headers = { ...answer.headers, 'Content-Length': String(answer.body.length) };
  const server = https.createServer(httpsOptions(material, trustedCas), (_req, res) => {
    res.writeHead(200, headers);
    res.end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    cpuSeconds: processCpuSeconds,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** One GET over TLS (no client certificate): the answer's headers of interest and body. */
export function fetchOnce(port: number, path: string, ca: string): Promise<{ headers: Record<string, string>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, path, servername: 'localhost', ca }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`GET ${path}: ${res.statusCode}`));
          const headers: Record<string, string> = {};
          for (const name of ['content-type', 'content-transfer-encoding']) if (typeof res.headers[name] === 'string') headers[name] = res.headers[name];
          resolve({ headers, body: Buffer.concat(chunks) });
        });
      })
      .on('error', reject);
  });
}
