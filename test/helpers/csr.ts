import fs from 'node:fs';
import path from 'node:path';
import { mustRun } from './run.js';

export type TestKey = 'ec-p256' | 'ec-p384' | 'ec-p521' | 'rsa-2048' | 'rsa-3072' | 'ed25519';

const GENPKEY: Record<TestKey, string[]> = {
  'ec-p256': ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  'ec-p384': ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  'ec-p521': ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-521'],
  'rsa-2048': ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
  'rsa-3072': ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:3072'],
  ed25519: ['-algorithm', 'ED25519'],
};

let counter = 0;

/** A key and a PKCS#10 request made by `openssl req`, as a device or operator would make them. */
export async function opensslCsr(dir: string, options: { key?: TestKey; subject?: string; addext?: string[] } = {}) {
  const base = path.join(dir, `csr-${process.pid}-${counter++}`);
  await mustRun('openssl', ['genpkey', ...GENPKEY[options.key ?? 'ec-p256'], '-out', `${base}.key`]);
  const args = ['req', '-new', '-key', `${base}.key`, '-subj', options.subject ?? '/CN=device', '-out', `${base}.csr`];
  for (const ext of options.addext ?? []) args.push('-addext', ext);
  await mustRun('openssl', args);
  return { keyFile: `${base}.key`, csrFile: `${base}.csr`, csrPem: fs.readFileSync(`${base}.csr`, 'utf8') };
}

/** The same request with one bit of its signature flipped: well formed, but no proof of possession. */
export function breakSignature(csrPem: string): string {
  const der = Buffer.from(csrPem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
  der[der.length - 5] ^= 0x01;
  return `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE REQUEST-----\n`;
}
