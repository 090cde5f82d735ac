import fs from 'node:fs';
import { isCrl, lintCertificate, lintCrl, lintIssuerFromCertificate, tbsOf, type Finding, type LintIssuer } from '../lint/index.js';
import { fromPemBlocks } from '../x509/pem.js';
import { rawIssuer, rawSubject } from '../x509/certificate-fields.js';
import { HallmarkError } from '../base/errors.js';
import { printJson } from './output.js';
import { usageError } from './usage-error.js';

export interface LintFlags {
  json: boolean;
  issuer?: string;
}

/** PEM (certificate or X509 CRL) or DER, first object in the file. */
function readObject(file: string): Uint8Array {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw usageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code}`);
  }
  const text = bytes.toString('latin1');
  if (text.includes('-----BEGIN')) {
    const blocks = fromPemBlocks(text, ['CERTIFICATE', 'X509 CRL', 'CRL']);
    if (!blocks.length) throw new HallmarkError('lint_input', `${file} has no CERTIFICATE or X509 CRL PEM block`, 400);
    return blocks[0]!;
  }
  return new Uint8Array(bytes);
}

/**
 * Lints a certificate or CRL from anywhere with the same rules that guard Hallmark's own signing.
 * Rules that compare with the issuer use `--issuer <file>`; a self-issued certificate is its own issuer.
 */
export async function lintCommand(args: string[], flags: LintFlags): Promise<void> {
  const file = args[0];
  if (!file) throw usageError('usage: hallmark lint <certificate or CRL file> [--issuer <CA certificate>] [--json]');
  const der = readObject(file);
  let issuer: LintIssuer | undefined = flags.issuer ? lintIssuerFromCertificate(readObject(flags.issuer)) : undefined;
  let kind: 'certificate' | 'crl';
  let findings: Finding[];
  try {
    if (isCrl(der)) {
      kind = 'crl';
      findings = lintCrl(tbsOf(der), issuer, new Date());
    } else {
      kind = 'certificate';
      const selfIssued = !issuer && Buffer.from(rawIssuer(der)).equals(Buffer.from(rawSubject(der)));
      if (selfIssued) issuer = lintIssuerFromCertificate(der);
      findings = lintCertificate(tbsOf(der), issuer, { selfIssued });
    }
  } catch (e) {
    throw new HallmarkError('lint_input', `${file} is not a certificate or CRL Hallmark can read: ${(e as Error).message}`, 400);
  }
  if (flags.json) printJson({ file, kind, issuerChecked: Boolean(issuer), findings });
  else {
    process.stdout.write(`${file}: ${kind}, ${findings.length ? `${findings.length} finding(s)` : 'clean'}${issuer ? '' : ' (issuer not given: issuer checks skipped)'}\n`);
    for (const f of findings) process.stdout.write(`  ✗ ${f.rule} [${f.citation}]: ${f.message}\n`);
  }
  if (findings.length) throw new HallmarkError('lint_findings', `${findings.length} lint finding(s) in ${file}`, 1);
}
