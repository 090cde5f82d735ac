import { initCommand } from './init.js';
import { caCommand } from './ca.js';
import { certCommand } from './cert.js';
import { serveCommand } from './serve.js';
import { apikeyCommand } from './apikey.js';
import { auditCommand } from './audit.js';
import { operatorCommand } from './operator.js';
import { crlCommand } from './crl.js';
import { lintCommand } from './lint.js';
import { tokenCommand } from './token.js';
import { stationCommand } from './station.js';
import { deviceCommand } from './device.js';
import { statusCommand } from './status.js';
import { completionCommand } from './completion.js';
import { securityCommand } from './security.js';
import { enrollmentCommand } from './enrollment.js';

/**
 * Every command, its verbs, their arguments and options, in one table: the parser, the help pages
 * (`hallmark help`, `hallmark <command> --help`, `hallmark <command> <verb> --help`) and bash
 * completion are all made from it.
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
  limit: { type: 'string', value: 'n', help: 'at most this many rows (default 1000)' },
  host: { type: 'string', value: 'address', help: 'address to listen on (default ::)' },
  role: { type: 'string', value: 'role', help: 'admin, operator, read-only, station or device' },
  reason: { type: 'string', value: 'reason', help: 'RFC 5280 reason: keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation, certificateHold, privilegeWithdrawn' },
  'invalidity-date': { type: 'string', value: 'ISO 8601', help: 'when the key is known or suspected to have been compromised' },
  ca: { type: 'string', value: 'ca', help: 'only this CA (default: every CA)' },
  issuer: { type: 'string', value: 'ca|file', help: 'issuing CA (a name, or for lint a certificate file)' },
  line: { type: 'string', value: 'line', help: 'factory line' },
  lot: { type: 'string', value: 'lot', help: 'production lot' },
  profiles: { type: 'string', value: 'a,b', help: 'profiles the station may request (default device)' },
  quota: { type: 'string', value: 'per hour', help: 'devices the station may provision per hour' },
  format: { type: 'string', value: 'csv|jsonl', help: 'output format (default jsonl)' },
  dir: { type: 'string', value: 'directory', help: 'a directory of CSR files (*.csr, *.pem, *.der, *.req)' },
  at: { type: 'string', value: 'ISO 8601', help: 'when the new generation starts issuing (default now)' },
  label: { type: 'string', value: 'text', help: 'a label (EST label for tokens; a note for API keys)' },
  scopes: { type: 'string', value: 'a,b', help: 'permissions the key is limited to (default: all of its role)' },
  expires: { type: 'string', value: 'duration', help: 'lifetime such as 24h, 90d' },
  name: { type: 'string', value: 'name', help: 'name (lowercase letters, digits, dashes; operators also dots and underscores)' },
  'password-file': { type: 'string', value: 'file|-', help: 'file holding the password, or - for standard input' },
  'https-port': { type: 'string', value: 'port', help: 'HTTPS listener (default 8443)' },
  'http-port': { type: 'string', value: 'port', help: 'plain-HTTP listener for CA certificates, CRLs and OCSP (default 8080)' },
  workers: { type: 'string', value: 'n|auto', help: 'serve with several processes on the same ports' },
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
  /** Resolves to false for a command that keeps running (serve). */
  run(verb: string | undefined, args: string[], flags: Flags): Promise<unknown>;
}

export const COMMANDS: CommandSpec[] = [
  {
    name: 'init',
    summary: 'create the CA keys on the token and the hierarchy',
    verbs: [{ options: [], summary: 'CA ceremony: keys on the token, root and issuing CA, a bootstrap admin API key' }],
    run: (_verb, _args, flags) => initCommand(flags),
  },
  {
    name: 'serve',
    summary: 'run the HTTPS and HTTP listeners',
    verbs: [{ options: ['https-port', 'http-port', 'host', 'workers'], summary: 'serve EST, REST, the console, CRLs and OCSP' }],
    run: async (_verb, _args, flags) => {
      await serveCommand(flags);
      return false;
    },
  },
  {
    name: 'status',
    summary: 'the CA at a glance',
    verbs: [{ options: [], summary: 'hierarchy, certificate counts, CRL age, the token' }],
    run: (_verb, _args, flags) => statusCommand(flags),
  },
  {
    name: 'ca',
    summary: 'CA certificates and their lifecycle',
    verbs: [
      { verb: 'list', options: [], summary: 'every CA with its validity' },
      { verb: 'show', args: '<ca>', options: [], summary: 'one CA in detail' },
      { verb: 'export', args: '<ca>', options: ['chain', 'out'], summary: 'the CA certificate (PEM), or its chain' },
      { verb: 'rollover', args: '<ca>', options: ['at'], summary: 'a new generation of a CA (a root gets link certificates)' },
      { verb: 'revoke', args: '<ca>', options: ['reason'], required: ['reason'], summary: 'compromise drill, step one: revoke a CA (its family must have another generation)' },
      { verb: 'reissue', args: '<ca>', options: [], summary: 'compromise drill, step two: re-issue what the revoked CA issued (resumable)' },
    ],
    run: (verb, args, flags) => caCommand(verb, args, flags),
  },
  {
    name: 'cert',
    summary: 'issue, inspect and revoke certificates',
    verbs: [
      { verb: 'issue', options: ['csr', 'dir', 'profile', 'device', 'days', 'out'], required: ['profile'], summary: 'issue from a CSR (--csr) or a directory of CSRs (--dir, progress on stderr)' },
      { verb: 'list', options: ['status', 'device', 'issuer', 'expiring', 'limit'], summary: 'certificates, newest first' },
      { verb: 'show', args: '<serial>', options: [], summary: 'one certificate' },
      { verb: 'revoke', args: '<serial>', options: ['reason', 'invalidity-date'], required: ['reason'], summary: 'revoke; CRL and OCSP follow within seconds' },
      { verb: 'release', args: '<serial>', options: [], summary: 'release a certificate from hold' },
      { verb: 'allow-renewal', args: '<serial>', options: [], summary: 'let one certificate renew now, before its renewal window opens' },
    ],
    run: (verb, args, flags) => certCommand(verb, args, flags),
  },
  {
    name: 'crl',
    summary: 'certificate revocation lists',
    verbs: [{ verb: 'generate', options: ['ca', 'out'], summary: 'sign a new CRL now' }],
    run: (verb, _args, flags) => crlCommand(verb, flags),
  },
  {
    name: 'station',
    summary: 'factory provisioning stations',
    verbs: [
      { verb: 'add', options: ['name', 'line', 'profiles', 'quota'], required: ['name', 'line'], summary: 'a station with its API key and client certificate' },
      { verb: 'list', options: [], summary: 'stations and their state' },
      { verb: 'disable', args: '<name>', options: [], summary: 'revoke a station’s API key and certificate' },
    ],
    run: (verb, args, flags) => stationCommand(verb, args, flags),
  },
  {
    name: 'device',
    summary: 'the device inventory',
    verbs: [
      { verb: 'list', options: ['line', 'lot', 'limit'], summary: 'newest devices' },
      { verb: 'show', args: '<serial>', options: [], summary: 'one device and its manufacturing records' },
      { verb: 'export', options: ['format', 'out'], summary: 'every device, CSV or JSON lines' },
      { verb: 'report', options: [], summary: 'devices per line and lot' },
      { verb: 'reprovision', args: '<serial>', options: [], summary: 'allow a device to be provisioned once more' },
    ],
    run: (verb, args, flags) => deviceCommand(verb, args, flags),
  },
  {
    name: 'token',
    summary: 'one-time EST enrollment secrets',
    verbs: [{ verb: 'create', options: ['device', 'label', 'expires'], required: ['device'], summary: 'a secret for one device' }],
    run: (verb, _args, flags) => tokenCommand(verb, flags),
  },
  {
    name: 'enrollment',
    summary: 'enrollments held for an operator’s approval',
    verbs: [
      { verb: 'list', options: ['status'], summary: 'held requests (pending, approved, rejected, issued)' },
      { verb: 'approve', args: '<id>', options: [], summary: 'the device gets its certificate when it repeats its request' },
      { verb: 'reject', args: '<id>', options: ['reason'], summary: 'the device gets 403 when it repeats its request' },
    ],
    run: (verb, args, flags) => enrollmentCommand(verb, args, flags),
  },
  {
    name: 'apikey',
    summary: 'API keys',
    verbs: [
      { verb: 'create', options: ['role', 'label', 'scopes', 'expires'], required: ['role'], summary: 'a key, shown once' },
      { verb: 'list', options: [], summary: 'keys and their state' },
      { verb: 'revoke', args: '<id>', options: [], summary: 'revoke a key' },
    ],
    run: (verb, args, flags) => apikeyCommand(verb, args, flags),
  },
  {
    name: 'operator',
    summary: 'console operators (password and TOTP)',
    verbs: [
      { verb: 'add', options: ['name', 'role', 'password-file'], required: ['name', 'role', 'password-file'], summary: 'an operator; prints the TOTP enrolment URI once' },
      { verb: 'list', options: [], summary: 'operators and their state' },
      { verb: 'disable', args: '<name>', options: [], summary: 'disable an operator and close their sessions' },
    ],
    run: (verb, args, flags) => operatorCommand(verb, args, flags),
  },
  {
    name: 'audit',
    summary: 'the tamper-evident audit log',
    verbs: [
      { verb: 'verify', options: [], summary: 'check the hash chain and the signed checkpoints' },
      { verb: 'export', options: ['out'], summary: 'every entry as JSON lines' },
      { verb: 'checkpoint', options: [], summary: 'sign the head of the log with the audit key now' },
    ],
    run: (verb, _args, flags) => auditCommand(verb, flags),
  },
  {
    name: 'security',
    summary: 'authentication-failure blocks',
    verbs: [
      { verb: 'blocks', args: '[list]', options: [], summary: 'blocks in force' },
      { verb: 'blocks', args: 'lift <id>', options: [], summary: 'lift a block' },
    ],
    run: (verb, args, flags) => securityCommand(verb, args, flags),
  },
  {
    name: 'lint',
    summary: 'lint a certificate or CRL from anywhere',
    verbs: [{ args: '<file>', options: ['issuer'], summary: 'the checks Hallmark runs before signing, on a file' }],
    run: (verb, args, flags) => lintCommand(verb ? [verb, ...args] : [], flags),
  },
  {
    name: 'completion',
    summary: 'bash completion',
    verbs: [{ verb: 'bash', options: [], summary: 'source <(hallmark completion bash)' }],
    run: async (verb) => completionCommand(verb, COMMANDS),
  },
];

export const commandNamed = (name: string): CommandSpec | undefined => COMMANDS.find((c) => c.name === name);

/** The options a command (or one verb of it) takes, --json and --help included. */
export function optionsOf(command: CommandSpec, verb?: string): OptionName[] {
  const verbs = command.verbs.filter((v) => verb === undefined || v.verb === undefined || v.verb === verb);
  return [...new Set<OptionName>([...verbs.flatMap((v) => v.options), 'json', 'help'])];
}

const usageLine = (command: CommandSpec, v: VerbSpec) =>
  [
    'hallmark',
    command.name,
    v.verb,
    v.args,
    ...v.options.map((o) => {
      const spec: OptionSpec = OPTIONS[o];
      const text = spec.type === 'boolean' ? `--${o}` : `--${o} <${spec.value ?? 'value'}>`;
      return v.required?.includes(o) ? text : `[${text}]`;
    }),
  ]
    .filter(Boolean)
    .join(' ');

/** `hallmark help`: every command, one line a verb. */
export function globalHelp(): string {
  const lines = COMMANDS.flatMap((c) => c.verbs.map((v) => `  ${usageLine(c, v)}`));
  return `hallmark — private PKI and device provisioning, CA keys in an HSM

${lines.join('\n')}

  hallmark <command> --help, hallmark <command> <verb> --help: the options, explained.
Every command that prints data takes --json. Environment: HALLMARK_HOME, HALLMARK_CONFIG,
HALLMARK_PKCS11_MODULE, HALLMARK_PKCS11_TOKEN, HALLMARK_PKCS11_PIN or HALLMARK_PKCS11_PIN_FILE,
DATABASE_URL (see README).
`;
}

/** `hallmark <command> [<verb>] --help`: its verbs with what they do, and each option explained. */
export function commandHelp(command: CommandSpec, verb?: string): string {
  const verbs = command.verbs.filter((v) => verb === undefined || v.verb === verb);
  const shown = verbs.length ? verbs : command.verbs;
  const options = [...new Set<OptionName>([...shown.flatMap((v) => v.options), 'json', 'help'])];
  const width = Math.max(...options.map((o) => `--${o}`.length + (OPTIONS[o].type === 'string' ? ` <${(OPTIONS[o] as OptionSpec).value ?? 'value'}>`.length : 0)));
  const optionLines = options.map((o) => {
    const spec: OptionSpec = OPTIONS[o];
    const name = `--${o}${spec.type === 'string' ? ` <${spec.value ?? 'value'}>` : ''}`;
    return `  ${name.padEnd(width)}  ${spec.help}`;
  });
  return `hallmark ${command.name} — ${command.summary}

${shown.map((v) => `  ${usageLine(command, v)}\n      ${v.summary}`).join('\n')}

options:
${optionLines.join('\n')}
`;
}

/** The option nearest to a mistyped one (one edit or a swap away), to suggest it. */
export function nearestOption(typed: string): OptionName | undefined {
  const distance = (a: string, b: string): number => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0]![j] = j;
    for (let i = 1; i <= a.length; i++)
      for (let j = 1; j <= b.length; j++) d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    return d[a.length]![b.length]!;
  };
  const ranked = (Object.keys(OPTIONS) as OptionName[]).map((o) => [o, distance(typed, o)] as const).sort((x, y) => x[1] - y[1]);
  return ranked[0] && ranked[0][1] <= 2 ? ranked[0][0] : undefined;
}
