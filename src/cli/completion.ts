import { usageError } from './usage-error.js';
import { optionsOf, type CommandSpec } from './command-spec.js';

/**
 * `hallmark completion bash|zsh` — source its output (e.g. from ~/.bashrc or ~/.zshrc) to complete
 * commands, verbs and options. Made from the command table (commands.ts), so it names what the parser
 * accepts. zsh runs the same function through its bash-completion layer (bashcompinit).
 */
export function completionCommand(shell: string | undefined, commands: CommandSpec[]): void {
  if (shell !== 'bash' && shell !== 'zsh') throw usageError('usage: hallmark completion bash|zsh   (then: source <(hallmark completion bash))');
  const words = (list: string[]) => [...new Set(list)].join(' ');
  const dashed = (options: string[]) => options.map((o) => `--${o}`);
  const second = commands.map((c) => `    ${c.name}) COMPREPLY=( $(compgen -W "${words([...c.verbs.flatMap((v) => (v.verb ? [v.verb] : [])), ...dashed(optionsOf(c))])}" -- "$cur") ) ;;`);
  const third = commands.flatMap((c) =>
    [...new Map(c.verbs.filter((v) => v.verb).map((v) => [v.verb, v])).values()].map((v) => `    "${c.name} ${v.verb}") COMPREPLY=( $(compgen -W "${words(dashed(optionsOf(c, v.verb)))}" -- "$cur") ) ;;`),
  );
  const zsh = shell === 'zsh' ? '(( $+functions[compdef] )) || { autoload -U +X compinit && compinit; }\nautoload -U +X bashcompinit && bashcompinit\n' : '';
  process.stdout.write(`# ${shell} completion for hallmark
${zsh}_hallmark() {
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
