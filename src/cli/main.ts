import { parseArgs } from 'node:util';
import { isHallmarkError } from '../base/errors.js';
import { initCommand } from './init.js';
import { caCommand } from './ca.js';
import { certCommand } from './cert.js';
import { serveCommand } from './serve.js';
import { usageError } from './usage-error.js';
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

const HELP = `hallmark — private PKI and device provisioning, CA keys in an HSM

  hallmark init                                   create CA keys on the token and the hierarchy
  hallmark serve [--https-port 8443] [--http-port 8080] [--host ::] [--workers <n>|auto]
  hallmark ca list | ca show <ca> | ca export <ca> [--chain] [--out <file>]
  hallmark ca rollover <ca> [--at <ISO 8601>]       new generation of a CA (a root gets link certificates)
  hallmark ca revoke <ca> --reason <r> | ca reissue <ca>   compromise drill: revoke, then re-issue (resumable)
  hallmark status                                 the CA at a glance (hierarchy, counts, CRLs, token)
  hallmark cert issue --csr <file> --profile <name> [--device <id>] [--days <n>] [--out <file>]
  hallmark cert issue --dir <directory of CSRs> --profile <name>      (progress on stderr)
  hallmark cert list [--status active|revoked|expired] [--device <id>] [--issuer <ca>] [--expiring <days>]
  hallmark cert show <serial>
  hallmark cert revoke <serial> --reason <rfc5280 reason> [--invalidity-date <ISO 8601>] | cert release <serial>
  hallmark cert allow-renewal <serial>             let one certificate renew now, before its window opens
  hallmark crl generate [--ca <ca>] [--out <file>]
  hallmark station add --line <line> --name <name> [--profiles device] [--quota <per hour>] | station list | station disable <name>
  hallmark device list [--line] [--lot] | device show <serial> | device export [--format csv|jsonl] [--out <file>]
  hallmark device report | device reprovision <serial>
  hallmark token create --device <id> [--label <label>] [--expires <duration>]
  hallmark completion bash                        source <(hallmark completion bash)
  hallmark lint <certificate or CRL file> [--issuer <CA certificate file>]
  hallmark apikey create --role <role> [--label <text>] [--scopes a,b] [--expires 90d] | apikey list | apikey revoke <id>
  hallmark operator add --name <name> --role <role> --password-file <file|-> | operator list | operator disable <name>
  hallmark audit verify | audit export [--out <file>] | audit checkpoint
  hallmark security blocks [list] | security blocks lift <id>   authentication-failure blocks
  hallmark enrollment list [--status <s>] | enrollment approve <id> | enrollment reject <id> [--reason <text>]

Every command that prints data takes --json. Environment: HALLMARK_HOME, HALLMARK_CONFIG,
HALLMARK_PKCS11_MODULE, HALLMARK_PKCS11_TOKEN, HALLMARK_PKCS11_PIN or HALLMARK_PKCS11_PIN_FILE,
DATABASE_URL (see README).
`;

const OPTIONS = {
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
  chain: { type: 'boolean', default: false },
  out: { type: 'string' },
  csr: { type: 'string' },
  profile: { type: 'string' },
  device: { type: 'string' },
  days: { type: 'string' },
  status: { type: 'string' },
  expiring: { type: 'string' },
  limit: { type: 'string' },
  host: { type: 'string' },
  role: { type: 'string' },
  reason: { type: 'string' },
  'invalidity-date': { type: 'string' },
  ca: { type: 'string' },
  issuer: { type: 'string' },
  line: { type: 'string' },
  lot: { type: 'string' },
  profiles: { type: 'string' },
  quota: { type: 'string' },
  format: { type: 'string' },
  dir: { type: 'string' },
  at: { type: 'string' },
  label: { type: 'string' },
  scopes: { type: 'string' },
  expires: { type: 'string' },
  name: { type: 'string' },
  'password-file': { type: 'string' },
  'https-port': { type: 'string' },
  'http-port': { type: 'string' },
  workers: { type: 'string' },
} as const;

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    process.stderr.write(`hallmark: ${(e as Error).message}; see \`hallmark help\`\n`);
    return 2;
  }
  const { values: flags, positionals } = parsed;
  const [group, verb, ...rest] = positionals;
  try {
    if (!group || group === 'help' || flags.help) {
      process.stdout.write(HELP);
      return 0;
    }
    switch (group) {
      case 'init':
        await initCommand(flags);
        return 0;
      case 'serve':
        await serveCommand(flags);
        return -1; // keeps running
      case 'ca':
        await caCommand(verb, rest, flags);
        return 0;
      case 'cert':
        await certCommand(verb, rest, flags);
        return 0;
      case 'status':
        await statusCommand(flags);
        return 0;
      case 'completion':
        completionCommand(verb);
        return 0;
      case 'station':
        await stationCommand(verb, rest, flags);
        return 0;
      case 'device':
        await deviceCommand(verb, rest, flags);
        return 0;
      case 'token':
        await tokenCommand(verb, flags);
        return 0;
      case 'lint':
        await lintCommand(verb ? [verb, ...rest] : [], flags);
        return 0;
      case 'crl':
        await crlCommand(verb, flags);
        return 0;
      case 'apikey':
        await apikeyCommand(verb, rest, flags);
        return 0;
      case 'audit':
        await auditCommand(verb, flags);
        return 0;
      case 'operator':
        await operatorCommand(verb, rest, flags);
        return 0;
      case 'security':
        await securityCommand(verb, rest, flags);
        return 0;
      case 'enrollment':
        await enrollmentCommand(verb, rest, flags);
        return 0;
      default:
        throw usageError(`unknown command "${group}"; see \`hallmark help\``);
    }
  } catch (e) {
    if (isHallmarkError(e)) {
      process.stderr.write(`hallmark: ${e.message}\n`);
      return e.code === 'usage' ? 2 : 1;
    }
    process.stderr.write(`hallmark: unexpected error: ${(e as Error)?.message ?? e}\n`);
    if (process.env.HALLMARK_DEBUG) process.stderr.write(`${(e as Error)?.stack}\n`);
    return 1;
  }
}
