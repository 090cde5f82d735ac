import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A real HTTP receiver for alert webhooks: records every JSON body it is sent. */
export async function startWebhookReceiver() {
  const received: any[] = [];
  const waiters: (() => void)[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ ...JSON.parse(Buffer.concat(chunks).toString('utf8')), contentType: req.headers['content-type'] });
      res.writeHead(204).end();
      waiters.splice(0).forEach((w) => w());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    /** Waits until an alert matching `predicate` arrived (or fails after `ms`). */
    async waitFor(predicate: (alert: any) => boolean, ms = 5000): Promise<any> {
      const deadline = Date.now() + ms;
      for (;;) {
        const found = received.find(predicate);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no matching alert; received: ${JSON.stringify(received)}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 100);
        });
      }
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
