/**
 * Load generator for scripts/bench/issue, run as its own process so that the clients' CPU is not
 * counted as the server's event loop. Reads a JSON job file (argv[2]) and prints one JSON line.
 *   est:   `clients` devices, each on its own keep-alive TLS connection with its bootstrap (IDevID)
 *          certificate, POST /.well-known/est/simpleenroll back to back for `seconds`.
 *   batch: `concurrency` stations posting /api/v1/factory/provision/batch, one batch after another.
 */
import fs from 'node:fs';
import https from 'node:https';

interface EstJob {
  mode: 'est';
  port: number;
  ca: string;
  seconds: number;
  clients: { cert: string; key: string; csr: string }[];
}
interface BatchJob {
  mode: 'batch';
  port: number;
  ca: string;
  concurrency: number;
  tokens: string[];
  batches: unknown[][];
}

function post(agent: https.Agent, port: number, path: string, headers: Record<string, string>, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', servername: 'localhost', port, method: 'POST', path, agent, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.on('socket', (socket) => socket.setNoDelay(true));
    req.end(body);
  });
}

async function est(job: EstJob) {
  const latencies: number[] = [];
  let failures = 0;
  let firstFailure = '';
  const started = performance.now();
  const deadline = started + job.seconds * 1000;
  await Promise.all(
    job.clients.map(async (client) => {
      const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: job.ca, cert: client.cert, key: client.key });
      while (performance.now() < deadline) {
        const t = performance.now();
        const r = await post(agent, job.port, '/.well-known/est/simpleenroll', { 'content-type': 'application/pkcs10' }, client.csr);
        if (r.status === 200) latencies.push(performance.now() - t);
        else if (failures++ === 0) firstFailure = `${r.status} ${r.body.slice(0, 200)}`;
      }
      agent.destroy();
    }),
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
      for (let b = next++; b < job.batches.length; b = next++) {
        const t = performance.now();
        const r = await post(agent, job.port, '/api/v1/factory/provision/batch', { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, JSON.stringify({ devices: job.batches[b] }));
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
process.stdout.write(`${JSON.stringify({ ...result, cpuSeconds: (cpu.user + cpu.system) / 1e6, maxRssMiB: process.resourceUsage().maxRSS / 1024 })}\n`);
