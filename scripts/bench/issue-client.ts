/**
 * Load generator for scripts/bench/issue, run as its own process so that the clients' CPU is not
 * counted as the server's event loop. Reads a JSON job file (argv[2]) and prints one JSON line.
 *   est:   `clients` devices, each on its own keep-alive TLS connection with its bootstrap (IDevID)
 *          certificate, POST /.well-known/est/simpleenroll back to back for `seconds` (bare HTTP/1.1);
 *          with `request: 'cacerts'`, GET /.well-known/est/cacerts instead (the floor: the same TLS
 *          and HTTP, an answer of about the same size, nothing checked, signed or stored).
 *   batch: `concurrency` stations posting /api/v1/factory/provision/batch, one batch after another.
 */
import fs from 'node:fs';
import { peakRssKiB } from './proc-stat.js';
import https from 'node:https';
import { httpsPost } from './https-post.js';
import tls from 'node:tls';

interface EstJob {
  mode: 'est';
  port: number;
  /** Several instances: client i talks to ports[i % n] (else every client to `port`). */
  ports?: number[];
  ca: string;
  seconds: number;
  request?: 'simpleenroll' | 'cacerts';
  /** Requests a second over all clients, each client at its share (0 or absent: back to back). */
  rate?: number;
  clients: { cert: string; key: string; csr: string }[];
}
interface BatchJob {
  mode: 'batch';
  port: number;
  /** Several instances: station s posts to ports[s % n]. */
  ports?: number[];
  ca: string;
  concurrency: number;
  tokens: string[];
  batches: unknown[][];
  /** Certificates a second over all stations, each station at its share (0 or absent: back to back). */
  rate?: number;
}

/**
 * Paced sending: the time the k-th request of one of `of` senders is due, for `rate` a second over all
 * of them (their starts spread over one interval). A sender that fell behind by more than an interval
 * starts its schedule again from now instead of sending a burst to catch up.
 */
function pacer(rate: number | undefined, index: number, of: number, perRequest = 1) {
  if (!rate) return () => 0;
  const interval = (of * perRequest * 1000) / rate;
  let next = performance.now() + (index * interval) / of;
  return () => {
    const now = performance.now();
    if (now - next > interval) next = now;
    const wait = Math.max(0, next - now);
    next += interval;
    return wait;
  };
}
const after = (ms: number) => (ms > 0 ? new Promise((r) => setTimeout(r, ms)) : undefined);

/**
 * One EST device as a bare keep-alive HTTP/1.1 client on its own TLS connection (server certificate
 * verified, bootstrap certificate presented): the request bytes are made once, each answer is read by
 * its Content-Length. Node's https client cost ~300 µs of CPU per request here, on the same two cores
 * as the server, and its event loop turned 32 answers around one after another; this costs a fraction.
 */
function estDevice(job: EstJob, client: EstJob['clients'][number], port: number, deadline: number, pace: () => number, onAnswer: (status: number, ms: number, body: string) => void): Promise<void> {
  const body = Buffer.from(client.csr);
  const request =
    job.request === 'cacerts'
      ? Buffer.from(`GET /.well-known/est/cacerts HTTP/1.1\r\nHost: localhost:${port}\r\n\r\n`)
      : Buffer.concat([Buffer.from(`POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: localhost:${port}\r\nContent-Type: application/pkcs10\r\nContent-Length: ${body.length}\r\n\r\n`), body]);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: job.ca, cert: client.cert, key: client.key });
    socket.setNoDelay(true);
    let buffered: Buffer = Buffer.alloc(0);
    let sentAt = 0;
    const send = () => {
      const wait = pace();
      if (performance.now() + wait >= deadline) return void socket.end(resolve);
      if (wait > 0) return void setTimeout(write, wait);
      write();
    };
    const write = () => {
      sentAt = performance.now();
      socket.write(request);
    };
    socket.once('secureConnect', send);
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      const headerEnd = buffered.indexOf('\r\n\r\n');
      if (headerEnd < 0) return;
      const head = buffered.subarray(0, headerEnd).toString('latin1');
      const length = /\r\ncontent-length: *(\d+)/i.exec(head);
      if (!length) return void socket.destroy(new Error(`answer without Content-Length: ${head.slice(0, 200)}`));
      const total = headerEnd + 4 + Number(length[1]);
      if (buffered.length < total) return;
      onAnswer(Number(head.slice(9, 12)), performance.now() - sentAt, buffered.subarray(headerEnd + 4, total).toString('latin1'));
      buffered = buffered.subarray(total);
      send();
    });
    socket.on('error', reject);
  });
}

async function est(job: EstJob) {
  const latencies: number[] = [];
  let failures = 0;
  let firstFailure = '';
  const started = performance.now();
  const deadline = started + job.seconds * 1000;
  await Promise.all(
    job.clients.map((client, i) =>
      estDevice(job, client, job.ports?.[i % job.ports.length] ?? job.port, deadline, pacer(job.rate, i, job.clients.length), (status, ms, body) => {
        if (status === 200 && body.length > 0) latencies.push(ms);
        else if (failures++ === 0) firstFailure = `${status} ${body.slice(0, 200)}`;
      }),
    ),
  );
  return { seconds: (performance.now() - started) / 1000, issued: latencies.length, failures, firstFailure, latencies };
}

async function batch(job: BatchJob) {
  const latencies: number[] = [];
  let issued = 0;
  let failures = 0;
  let firstFailure = '';
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: job.concurrency }, async (_, s) => {
      const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: job.ca });
      const token = job.tokens[s % job.tokens.length]!;
      const pace = pacer(job.rate, s, job.concurrency, job.batches[0]?.length ?? 1);
      for (let b = next++; b < job.batches.length; b = next++) {
        await after(pace());
        const t = performance.now();
        const r = await httpsPost({ agent, port: job.ports?.[s % job.ports.length] ?? job.port, path: '/api/v1/factory/provision/batch', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ devices: job.batches[b] }) });
        const ok = r.status === 200 ? (JSON.parse(r.body).results as { error?: unknown }[]).filter((x) => !x.error).length : 0;
        issued += ok;
        if (ok !== job.batches[b]!.length && failures++ === 0) firstFailure = `${r.status} ${r.body.slice(0, 300)}`;
        latencies.push(performance.now() - t);
      }
      agent.destroy();
    }),
  );
  return { seconds: (performance.now() - started) / 1000, issued, failures, firstFailure, latencies };
}

const job = JSON.parse(fs.readFileSync(process.argv[2]!, 'utf8')) as EstJob | BatchJob;
const cpuBefore = process.cpuUsage();
const result = job.mode === 'est' ? await est(job) : await batch(job);
const cpu = process.cpuUsage(cpuBefore);
process.stdout.write(`${JSON.stringify({ ...result, cpuSeconds: (cpu.user + cpu.system) / 1e6, maxRssMiB: peakRssKiB() / 1024 })}\n`);
