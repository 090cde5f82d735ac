/**
 * The shape of the command table (commands.ts): every option Hallmark's CLI knows, and what a command
 * and its verbs declare. Kept apart from the table so that what is made from it (completion, help)
 * can import it without importing every command.
 */

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** What the value is, as help shows it (`--out <file>`). */
  value?: string;
  help: string;
  short?: string;
}

export const OPTIONS = {
  json: { type: 'boolean', help: 'print JSON for scripts instead of text for people' },
  help: { type: 'boolean', short: 'h', help: 'this help' },
  chain: { type: 'boolean', help: 'the chain up to the root, not only the CA certificate' },
  out: { type: 'string', value: 'file', help: 'write to this file instead of standard output' },
  csr: { type: 'string', value: 'file', help: 'PKCS#10 request, PEM or DER' },
  profile: { type: 'string', value: 'name', help: 'certificate profile (ca-config/profiles)' },
  device: { type: 'string', value: 'id', help: 'device identity' },
  days: { type: 'string', value: 'n', help: 'validity in days (capped by the profile)' },
  status: { type: 'string', value: 'status', help: 'only this status' },
  expiring: { type: 'string', value: 'days', help: 'only active certificates that expire within this many days' },
  prefix: { type: 'string', value: 'text', help: 'only device ids that start with this' },
  after: { type: 'string', value: 'device id', help: 'the next page: devices after this one (the last of the previous page)' },
  limit: { type: 'string', value: 'n', help: 'at most this many rows, newest first (default 1000, at most 100000)' },
  host: { type: 'string', value: 'address', help: 'address to listen on (default ::)' },
  role: { type: 'string', value: 'role', help: 'admin, operator, read-only, station or device' },
  reason: { type: 'string', value: 'reason', help: 'RFC 5280 reason: keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation, certificateHold, privilegeWithdrawn' },
  'invalidity-date': { type: 'string', value: 'ISO 8601', help: 'when the key is known or suspected to have been compromised' },
  ca: { type: 'string', value: 'ca', help: 'only this CA (default: every CA)' },
  shard: { type: 'string', value: 'n', help: 'only this shard of a partitioned CRL (default: the whole CRL and every shard)' },
  delta: { type: 'boolean', help: 'a delta CRL (RFC 5280 §5.2.4) on the newest complete one, instead of a complete CRL' },
  issuer: { type: 'string', value: 'ca|file', help: 'issuing CA (a name, or for lint a certificate file)' },
  line: { type: 'string', value: 'line', help: 'factory line' },
  lot: { type: 'string', value: 'lot', help: 'production lot' },
  profiles: { type: 'string', value: 'a,b', help: 'profiles the station may request (default device)' },
  quota: { type: 'string', value: 'per hour', help: 'devices the station may provision per hour' },
  format: { type: 'string', value: 'format', help: 'output format (device export: jsonl or csv; token lots: csv; sign: cms or raw)' },
  count: { type: 'string', value: 'n', help: 'how many (token create --lot: devices in the lot)' },
  dir: { type: 'string', value: 'directory', help: 'a directory of CSR files (*.csr, *.pem, *.der, *.req)' },
  at: { type: 'string', value: 'ISO 8601', help: 'when the new generation starts issuing (default now)' },
  label: { type: 'string', value: 'text', help: 'a label (EST label for tokens; a note for API keys)' },
  scopes: { type: 'string', value: 'a,b', help: 'permissions the key is limited to (default: all of its role); firmware.sign:<signer> signs with that signer only' },
  expires: { type: 'string', value: 'duration', help: 'lifetime such as 24h, 90d' },
  name: { type: 'string', value: 'name', help: 'name (lowercase letters, digits, dashes; operators also dots and underscores)' },
  'password-file': { type: 'string', value: 'file|-', help: 'file holding the password, or - for standard input' },
  'https-port': { type: 'string', value: 'port', help: 'HTTPS listener (default 8443)' },
  'http-port': { type: 'string', value: 'port', help: 'plain-HTTP listener for CA certificates, CRLs and OCSP (default 8080)' },
  key: { type: 'string', value: 'type', help: 'key type made on the token (signer create|rollover: ec-p256, ec-p384, rsa-3072 or rsa-4096)' },
  signer: { type: 'string', value: 'name', help: 'the signer whose key signs' },
  file: { type: 'string', value: 'file', help: 'the image to sign (hashed here; only its digest is signed)' },
  product: { type: 'string', value: 'product', help: 'the product the image is for' },
  channel: { type: 'string', value: 'channel', help: 'release channel (default stable); versions rise per product and channel' },
  version: { type: 'string', value: 'n.n.n', help: 'the image version: one to four dot-separated numbers' },
  digest: { type: 'string', value: 'sha256|sha384', help: 'how the image is hashed (default: the signer key\'s hash)' },
  timestamp: { type: 'boolean', help: 'a time-stamp from this Hallmark\'s TSA over the CMS signature (RFC 3161 appendix A)' },
  'two-person': { type: 'boolean', help: 'a release by this signer signs only after a second, different person approves it' },
  'rollback-override': { type: 'string', value: 'reason', help: 'sign although the version is not above every one signed (recorded and audited)' },
  'overlap-days': { type: 'string', value: 'n', help: "signer rollover: days the replaced key's certificate stays verifiable before it is revoked as superseded (default 30)" },
  cmp: { type: 'boolean', help: 'token create: a secret for CMP (PasswordBasedMac; kept sealed under the token key); --label names a CMP label' },
  workers: { type: 'string', value: 'n|auto', help: 'serve with several processes on the same ports' },
  module: { type: 'string', value: 'path', help: 'the PKCS#11 library to probe (default HALLMARK_PKCS11_MODULE)' },
  token: { type: 'string', value: 'label', help: 'the token to probe (default HALLMARK_PKCS11_TOKEN)' },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;
export type Flags = { [K in OptionName]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string } & { json: boolean; help: boolean; chain: boolean };

export interface VerbSpec {
  /** Absent for a command that has no verbs (`hallmark init`). */
  verb?: string;
  /** Positional arguments as help shows them. */
  args?: string;
  /** Options this verb takes; --json and --help go with every verb. */
  options: OptionName[];
  /** Options it cannot do without. */
  required?: OptionName[];
  summary: string;
}

export interface CommandSpec {
  name: string;
  summary: string;
  verbs: VerbSpec[];
  /** Command lines a person can copy, shown by `hallmark <command> --help`. */
  examples?: string[];
  /** Resolves to false for a command that keeps running (serve). */
  run(verb: string | undefined, args: string[], flags: Flags): Promise<unknown>;
}

/** The options a command (or one verb of it) takes, --json and --help included. */
export function optionsOf(command: CommandSpec, verb?: string): OptionName[] {
  const verbs = command.verbs.filter((v) => verb === undefined || v.verb === undefined || v.verb === verb);
  return [...new Set<OptionName>([...verbs.flatMap((v) => v.options), 'json', 'help'])];
}
