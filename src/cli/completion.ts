import { usageError } from './usage-error.js';
import { optionsOf, type CommandSpec } from './commands.js';

/**
 * `hallmark completion bash` — source its output (e.g. from ~/.bashrc) to complete commands, verbs
 * and options. Made from the command table (commands.ts), so it names what the parser accepts.
 */
export function completionCommand(shell: string | undefined, commands: CommandSpec[]): void {
  if (shell !== 'bash') throw usageError('usage: hallmark completion bash   (then: source <(hallmark completion bash))');
  const words = (list: string[]) => [...new Set(list)].join(' ');
  const dashed = (options: string[]) => options.map((o) => `--${o}`);
  const second = commands.map((c) => `    ${c.name}) COMPREPLY=( $(compgen -W "${words([...c.verbs.flatMap((v) => (v.verb ? [v.verb] : [])), ...dashed(optionsOf(c))])}" -- "$cur") ) ;;`);
  const third = commands.flatMap((c) =>
    c.verbs.filter((v) => v.verb).map((v) => `    "${c.name} ${v.verb}") COMPREPLY=( $(compgen -W "${words(dashed(optionsOf(c, v.verb)))}" -- "$cur") ) ;;`),
  );
  process.stdout.write(`# bash completion for hallmark
_hallmark() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${words([...commands.map((c) => c.name), 'help'])}" -- "$cur") ); return
  fi
  if [ "$COMP_CWORD" -eq 2 ]; then
    case "\${COMP_WORDS[1]}" in
${second.map((l) => `  ${l}`).join('\n')}
      help) COMPREPLY=( $(compgen -W "${words(commands.map((c) => c.name))}" -- "$cur") ) ;;
    esac
    return
  fi
  case "\${COMP_WORDS[1]} \${COMP_WORDS[2]}" in
${third.join('\n')}
    *) case "\${COMP_WORDS[1]}" in
${second.map((l) => `      ${l.trimStart()}`).join('\n')}
       esac ;;
  esac
}
complete -o default -F _hallmark hallmark
`);
}
