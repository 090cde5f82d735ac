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
import { hsmCheckCommand } from './hsm.js';
import { completionCommand } from './completion.js';
import { securityCommand } from './security.js';
import { enrollmentCommand } from './enrollment.js';
import { releaseCommand, signCommand, signerCommand } from './signing.js';
import { OPTIONS, type CommandSpec, type OptionName, type OptionSpec, type VerbSpec } from './command-spec.js';

/**
 * Every command, its verbs, their arguments and options, in one table: the parser, the help pages
 * (`hallmark help`, `hallmark <command> --help`, `hallmark <command> <verb> --help`) and bash/zsh
 * completion are all made from it.
 */

export const COMMANDS: CommandSpec[] = [
  {
    name: 'init',
    summary: 'create the CA keys on the token and the hierarchy',
    examples: ['hallmark init', 'hallmark init --json > ceremony.json   # the bootstrap admin key is in it: keep the file safe'],
    verbs: [{ options: [], summary: 'CA ceremony: keys on the token, root and issuing CA, a bootstrap admin API key' }],
    run: (_verb, _args, flags) => initCommand(flags),
  },
  {
    name: 'serve',
    summary: 'run the HTTPS and HTTP listeners',
    examples: ['hallmark serve', 'hallmark serve --https-port 9443 --http-port 9080   # and publicBaseUrl in hallmark.yaml to match', 'hallmark serve --workers auto'],
    verbs: [{ options: ['https-port', 'http-port', 'host', 'workers'], summary: 'serve EST, REST, the console, CRLs and OCSP' }],
    run: async (_verb, _args, flags) => {
      await serveCommand(flags);
      return false;
    },
  },
  {
    name: 'status',
    summary: 'the CA at a glance',
    examples: ['hallmark status', 'hallmark status --json | jq .certificates'],
    verbs: [{ options: [], summary: 'hierarchy, certificate counts, CRL age, the token' }],
    run: (_verb, _args, flags) => statusCommand(flags),
  },
  {
    name: 'hsm',
    summary: 'what a PKCS#11 token can do for Hallmark',
    examples: ['hallmark hsm check', 'hallmark hsm check --module /usr/lib/x86_64-linux-gnu/pkcs11/libopencryptoki.so --token hallmark --json'],
    verbs: [{ verb: 'check', options: ['module', 'token'], summary: 'probe a module before a ceremony: load, login, sessions, each CA key type (a throw-away key, signed and verified, deleted), sealing' }],
    run: (_verb, _args, flags) => hsmCheckCommand(flags),
  },
  {
    name: 'ca',
    summary: 'CA certificates and their lifecycle',
    examples: ['hallmark ca list', 'hallmark ca show issuing', 'hallmark ca export root --out root.pem', 'hallmark ca export issuing --chain > chain.pem', 'hallmark ca rollover issuing --at 2027-01-01T00:00:00Z'],
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
    examples: ['hallmark cert issue --csr dev.csr --profile device --device dev-0001 --out dev.pem', 'hallmark cert issue --dir csrs/ --profile device --json > issued.json', 'hallmark cert list --expiring 30 --limit 50', 'hallmark cert revoke 5F3A… --reason keyCompromise'],
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
    examples: ['hallmark crl generate', 'hallmark crl generate --ca issuing --out issuing.crl', 'hallmark crl generate --ca issuing --shard 3 --delta --out 3-delta.crl'],
    verbs: [{ verb: 'generate', options: ['ca', 'shard', 'delta', 'out'], summary: 'sign new CRLs now: the whole CRL and every shard of each CA, or one' }],
    run: (verb, _args, flags) => crlCommand(verb, flags),
  },
  {
    name: 'signer',
    summary: 'firmware signing keys on the token, with code-signing certificates',
    examples: ['hallmark signer create --name sensor-fw', 'hallmark signer create --name gateway-fw --key ec-p384', 'hallmark signer show sensor-fw --out signer-chain.pem', 'hallmark signer rollover sensor-fw --overlap-days 90', 'hallmark signer revoke sensor-fw --reason keyCompromise'],
    verbs: [
      { verb: 'create', options: ['name', 'profile', 'ca', 'key', 'two-person'], required: ['name'], summary: 'a key on the token and its certificate (firmware-signer profile, or another code-signing one)' },
      { verb: 'list', options: [], summary: 'every signer' },
      { verb: 'show', args: '<name>', options: ['out'], summary: 'one signer, its certificate chain and the keys rollovers replaced' },
      { verb: 'rollover', args: '<name>', options: ['overlap-days', 'key'], summary: "a new key and certificate; the old key is destroyed, its certificate verifiable for the overlap, then revoked as superseded" },
      { verb: 'retire', args: '<name>', options: [], summary: 'signs nothing more, for good: key destroyed, pending releases rejected; what it signed verifies until its certificate expires' },
      { verb: 'revoke', args: '<name>', options: ['reason', 'invalidity-date'], required: ['reason'], summary: "revoke its certificate (keyCompromise…): key destroyed, the releases it signed listed; rollover gives it a new key" },
    ],
    run: (verb, args, flags) => signerCommand(verb, args, flags),
  },
  {
    name: 'sign',
    summary: 'sign a firmware image by its digest',
    examples: ['hallmark sign --signer sensor-fw --file fw-1.4.2.bin --product sensor --version 1.4.2 --out fw-1.4.2.p7s', 'hallmark sign --signer sensor-fw --file fw.bin --product sensor --version 1.4.3 --format raw --out fw.sig'],
    verbs: [{ options: ['signer', 'file', 'product', 'version', 'channel', 'format', 'digest', 'timestamp', 'rollback-override', 'out'], required: ['signer', 'file', 'version', 'out'], summary: 'the release record, then a detached CMS (default) or raw signature; --product defaults to the signer name' }],
    run: (_verb, _args, flags) => signCommand(flags),
  },
  {
    name: 'release',
    summary: 'signed firmware releases',
    examples: ['hallmark release list --product sensor', 'hallmark release show 12 --json', 'hallmark release approve 12 --out fw.p7s', "hallmark release reject 12 --reason 'not the reviewed build'"],
    verbs: [
      { verb: 'list', options: ['product', 'signer', 'limit'], summary: 'release records, newest first' },
      { verb: 'show', args: '<id>', options: ['out'], summary: 'one release record (--out: its signature)' },
      { verb: 'approve', args: '<id>', options: ['out'], summary: 'the second person of a two-person signer: approve, and sign' },
      { verb: 'reject', args: '<id>', options: ['reason'], required: ['reason'], summary: 'refuse a pending release, with a reason: never signed, holds back no later version' },
    ],
    run: (verb, args, flags) => releaseCommand(verb, args, flags),
  },
  {
    name: 'station',
    summary: 'factory provisioning stations',
    examples: ['hallmark station add --name press-01 --line line-a --quota 5000', 'hallmark station list'],
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
    examples: ['hallmark device list --prefix dev- --limit 50', 'hallmark device list --after dev-0050 --limit 50', 'hallmark device list --lot 2026-12-A --limit 20', 'hallmark device show dev-0001', 'hallmark device export --format csv --out devices.csv', 'hallmark device reprovision SN-000123'],
    verbs: [
      { verb: 'list', options: ['prefix', 'status', 'after', 'limit'], summary: 'every device however it got its identity (factory, EST, REST, CLI), in id order, a page at a time; --status active|expired|revoked' },
      { verb: 'list', options: ['line', 'lot', 'limit'], summary: 'factory devices of a line or lot, newest first' },
      { verb: 'show', args: '<device id>', options: [], summary: 'one device: how it enrolled, its certificates newest first, its manufacturing records' },
      { verb: 'export', options: ['format', 'out'], summary: 'every device, CSV or JSON lines' },
      { verb: 'report', options: [], summary: 'devices per line and lot' },
      { verb: 'reprovision', args: '<serial>', options: [], summary: 'allow a device to be provisioned once more' },
    ],
    run: (verb, args, flags) => deviceCommand(verb, args, flags),
  },
  {
    name: 'token',
    summary: 'one-time EST enrollment secrets',
    examples: ['hallmark token create --device dev-0002', 'hallmark token create --lot LOT-7 --count 500 --out lot-7-secrets.csv', 'hallmark token list --lot LOT-7 --status unused', 'hallmark token revoke --lot LOT-7'],
    verbs: [
      { verb: 'create', options: ['device', 'label', 'expires', 'cmp'], required: ['device'], summary: 'a secret for one device, shown once (--cmp: for CMP)' },
      { verb: 'create', options: ['lot', 'count', 'label', 'expires', 'format', 'out', 'cmp'], required: ['lot', 'count'], summary: 'secrets for devices <lot>-0001 … <lot>-<n>, CSV (or JSON lines) shown once' },
      { verb: 'list', options: ['device', 'lot', 'status', 'limit'], summary: 'secrets (never their values) and their state: unused, used, expired, revoked' },
      { verb: 'revoke', args: '<id>', options: [], summary: 'an unused secret can no longer enroll' },
      { verb: 'revoke', options: ['lot'], required: ['lot'], summary: 'every unused secret of a lot' },
    ],
    run: (verb, args, flags) => tokenCommand(verb, args, flags),
  },
  {
    name: 'enrollment',
    summary: 'enrollments held for an operator’s approval',
    examples: ['hallmark enrollment list --status pending', 'hallmark enrollment approve 3f2a…'],
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
    examples: ['hallmark apikey create --role operator --label ci --expires 90d', 'hallmark apikey create --role read-only --scopes cert.read --expires 24h'],
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
    examples: ['hallmark operator add --name alice --role operator --password-file -', 'hallmark operator passwd alice --password-file alice.pw', 'hallmark operator reset-totp alice'],
    verbs: [
      { verb: 'add', options: ['name', 'role', 'password-file'], required: ['name', 'role', 'password-file'], summary: 'an operator; prints the TOTP enrolment URI once' },
      { verb: 'list', options: [], summary: 'operators and their state' },
      { verb: 'disable', args: '<name>', options: [], summary: 'disable an operator and close their sessions' },
      { verb: 'passwd', args: '<name>', options: ['password-file'], required: ['password-file'], summary: 'set a new password; their sessions are closed' },
      { verb: 'reset-totp', args: '<name>', options: [], summary: 'a new TOTP seed for a lost authenticator (shown once); their sessions are closed' },
    ],
    run: (verb, args, flags) => operatorCommand(verb, args, flags),
  },
  {
    name: 'audit',
    summary: 'the tamper-evident audit log',
    examples: ['hallmark audit verify', 'hallmark audit export --out audit.jsonl'],
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
    examples: ['hallmark security blocks', 'hallmark security blocks lift 12'],
    verbs: [
      { verb: 'blocks', args: '[list]', options: [], summary: 'blocks in force' },
      { verb: 'blocks', args: 'lift <id>', options: [], summary: 'lift a block' },
    ],
    run: (verb, args, flags) => securityCommand(verb, args, flags),
  },
  {
    name: 'lint',
    summary: 'lint a certificate or CRL from anywhere',
    examples: ['hallmark lint cert.pem --issuer issuing'],
    verbs: [{ args: '<file>', options: ['issuer'], summary: 'the checks Hallmark runs before signing, on a file' }],
    run: (verb, args, flags) => lintCommand(verb ? [verb, ...args] : [], flags),
  },
  {
    name: 'completion',
    summary: 'shell completion for bash and zsh',
    examples: ['source <(hallmark completion bash)', 'source <(hallmark completion zsh)'],
    verbs: [
      { verb: 'bash', options: [], summary: 'source <(hallmark completion bash), e.g. from ~/.bashrc' },
      { verb: 'zsh', options: [], summary: 'source <(hallmark completion zsh), e.g. from ~/.zshrc' },
    ],
    run: async (verb) => completionCommand(verb, COMMANDS),
  },
];

export const commandNamed = (name: string): CommandSpec | undefined => COMMANDS.find((c) => c.name === name);

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
DATABASE_URL (see docs/operators.md).
`;
}

/** `hallmark <command> [<verb>] --help`: its verbs with what they do, and each option explained. */
export function commandHelp(command: CommandSpec, verb?: string): string {
  const verbs = command.verbs.filter((v) => verb === undefined || v.verb === verb);
  const shown = verbs.length ? verbs : command.verbs;
  const options = [...new Set<OptionName>([...shown.flatMap((v) => v.options), 'json', 'help'])];
  const width = Math.max(...options.map((o) => `--${o}`.length + (OPTIONS[o].type === 'string' ? ` <${(OPTIONS[o] as OptionSpec).value ?? 'value'}>`.length : 0)));
  // One verb's page shows that verb's examples only.
  const examples = (command.examples ?? []).filter((e) => !verb || e.startsWith(`hallmark ${command.name} ${verb} `) || e === `hallmark ${command.name} ${verb}`);
  const optionLines = options.map((o) => {
    const spec: OptionSpec = OPTIONS[o];
    const name = `--${o}${spec.type === 'string' ? ` <${spec.value ?? 'value'}>` : ''}`;
    return `  ${name.padEnd(width)}  ${spec.help}`;
  });
  return `hallmark ${command.name} — ${command.summary}

${shown.map((v) => `  ${usageLine(command, v)}\n      ${v.summary}`).join('\n')}

options:
${optionLines.join('\n')}
${examples.length ? `\nexamples:\n${examples.map((e) => `  ${e}`).join('\n')}\n` : ''}`;
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
