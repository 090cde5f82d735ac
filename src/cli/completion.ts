import { usageError } from './usage-error.js';

const COMMANDS: Record<string, string[]> = {
  init: [],
  serve: ['--https-port', '--http-port', '--host', '--workers', '--json'],
  status: ['--json'],
  ca: ['list', 'show', 'export', '--chain', '--out', '--json'],
  cert: ['issue', 'list', 'show', 'revoke', 'release', 'allow-renewal', '--csr', '--dir', '--profile', '--device', '--days', '--out', '--status', '--expiring', '--reason', '--invalidity-date', '--json'],
  crl: ['generate', '--ca', '--out', '--json'],
  lint: ['--issuer', '--json'],
  token: ['create', '--device', '--label', '--expires', '--json'],
  station: ['add', 'list', 'disable', '--line', '--name', '--profiles', '--quota', '--json'],
  device: ['list', 'show', 'export', 'report', 'reprovision', '--line', '--lot', '--format', '--out', '--json'],
  apikey: ['create', 'list', 'revoke', '--role', '--label', '--scopes', '--expires', '--json'],
  operator: ['add', 'list', 'disable', '--name', '--role', '--password-file', '--json'],
  audit: ['verify', 'export', 'checkpoint', '--out', '--json'],
  security: ['blocks', 'list', 'lift', '--json'],
  enrollment: ['list', 'approve', 'reject', '--status', '--reason', '--json'],
  completion: ['bash'],
  help: [],
};

/** `hallmark completion bash` — source its output (e.g. from ~/.bashrc) to complete commands and flags. */
export function completionCommand(shell: string | undefined): void {
  if (shell !== 'bash') throw usageError('usage: hallmark completion bash   (then: source <(hallmark completion bash))');
  const cases = Object.entries(COMMANDS)
    .map(([cmd, words]) => `    ${cmd}) COMPREPLY=( $(compgen -W "${words.join(' ')}" -- "$cur") ) ;;`)
    .join('\n');
  process.stdout.write(`# bash completion for hallmark
_hallmark() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${Object.keys(COMMANDS).join(' ')}" -- "$cur") ); return
  fi
  case "\${COMP_WORDS[1]}" in
${cases}
  esac
}
complete -o default -F _hallmark hallmark
`);
}
