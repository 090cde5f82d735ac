#!/usr/bin/env node
// A factory station's client for Hallmark, in plain Node (no dependencies): provisions one device from
// its CSR, retrying what is safe to retry. Usage:
//   HALLMARK_URL=https://localhost:8443 STATION_KEY=... node provision-client.mjs root.pem device.csr SN-0001 > device.pem
import fs from 'node:fs';
import https from 'node:https';

const [rootFile, csrFile, deviceSerial] = process.argv.slice(2);
if (!rootFile || !csrFile || !deviceSerial || !process.env.STATION_KEY) {
  console.error('usage: HALLMARK_URL=https://host:8443 STATION_KEY=<key> node provision-client.mjs <root.pem> <device.csr> <device serial>');
  process.exit(2);
}
const base = new URL(process.env.HALLMARK_URL ?? 'https://localhost:8443');
const body = JSON.stringify({ deviceSerial, model: 'M1', lot: 'LOT-1', firmwareVersion: '1.0.0', csr: fs.readFileSync(csrFile, 'utf8') });

function post() {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: base.hostname,
        port: base.port || 443,
        path: '/api/v1/factory/provision',
        method: 'POST',
        ca: fs.readFileSync(rootFile),
        headers: { authorization: `Bearer ${process.env.STATION_KEY}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: 30_000,
      },
      (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode, retryAfter: Number(res.headers['retry-after'] ?? 0), json: JSON.parse(text) }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

// The same request again is safe: one serial, one key, one certificate (200 with repeated: true).
for (let attempt = 1; ; attempt++) {
  let answer;
  try {
    answer = await post();
  } catch (e) {
    answer = { status: 0, error: e };
  }
  if (answer.status === 200 || answer.status === 201) {
    process.stdout.write(answer.json.certificate);
    console.error(`${deviceSerial}: certificate ${answer.json.serial}${answer.json.repeated ? ' (already provisioned with this key)' : ''}`);
    process.exit(0);
  }
  const code = answer.json?.error?.code;
  // Worth retrying: no answer, the service busy (503) or over quota (429: Retry-After says when),
  // another request on the same device (409 in_progress / reservation_race). Anything else is final.
  const retry = answer.status === 0 || answer.status === 503 || answer.status === 429 || code === 'in_progress' || code === 'reservation_race';
  if (!retry || attempt === 5) {
    console.error(`${deviceSerial}: ${answer.status || 'no answer'} ${code ?? ''} ${answer.json?.error?.message ?? answer.error?.message ?? ''}`);
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, Math.max(answer.retryAfter * 1000, 500 * 2 ** attempt)));
}
