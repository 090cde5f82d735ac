import https from 'node:https';

/** One HTTPS POST to the local listener (server name `localhost`), the body read whole: the benchmarks' client. */
export function httpsPost(options: { port: number; path: string; headers: Record<string, string>; body: string; agent?: https.Agent; ca?: string }): Promise<{ status: number; body: string }> {
  const { port, path, headers, body, agent, ca } = options;
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', servername: 'localhost', port, method: 'POST', path, agent, ca, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.on('socket', (socket) => socket.setNoDelay(true));
    req.end(body);
  });
}
