import { parseArgs, type ParseArgsConfig } from 'node:util';
import { isHallmarkError } from '../base/errors.js';
import { usageError } from './usage-error.js';
import { checkOutFile } from './out-file.js';
import { COMMANDS, commandHelp, commandNamed, globalHelp, nearestOption } from './commands.js';
import { OPTIONS, optionsOf, type Flags, type OptionName, type OptionSpec, type VerbSpec } from './command-spec.js';

/** node:util's parser, configured from the command table. */
const PARSER_OPTIONS: ParseArgsConfig['options'] = Object.fromEntries(
  Object.entries(OPTIONS).map(([name, spec]: [string, OptionSpec]) => [name, { type: spec.type, ...(spec.short ? { short: spec.short } : {}), ...(spec.type === 'boolean' ? { default: false } : {}) }]),
);

/** Turns node:util's wording into ours, with the option meant when one was mistyped. */
function parseProblem(e: Error): string {
  const unknown = /Unknown option '(-{1,2})([^']+)'/.exec(e.message);
  if (unknown) {
    const meant = nearestOption(unknown[2]!);
    return `unknown option ${unknown[1]}${unknown[2]}${meant ? `; did you mean --${meant}?` : ''} (see \`hallmark help\`)`;
  }
  const missing = /Option '(?:-\w, )?--([^ ]+) <value>' argument missing/.exec(e.message);
  if (missing) return `--${missing[1]} needs a value`;
  return e.message.replace(/\. To specify a positional argument.*$/s, '');
}

/** A file-system error in words, with the path, instead of Node's code. */
function systemProblem(e: unknown): string | undefined {
  const err = e as NodeJS.ErrnoException;
  const what: Record<string, string> = { ENOENT: 'no such file or directory', EACCES: 'permission denied', EISDIR: 'is a directory', ENOSPC: 'no space left on the device', EROFS: 'read-only file system' };
  return err?.code && what[err.code] && err.path ? `${err.path}: ${what[err.code]}` : undefined;
}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: PARSER_OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    process.stderr.write(`hallmark: ${parseProblem(e as Error)}\n`);
    return 2;
  }
  const flags = parsed.values as Flags;
  const [group, verb, ...rest] = parsed.positionals;
  try {
    if (!group || group === 'help') {
      const about = verb ? commandNamed(verb) : undefined;
      process.stdout.write(about ? commandHelp(about, rest[0]) : globalHelp());
      return 0;
    }
    const command = commandNamed(group);
    if (!command) throw usageError(`unknown command "${group}"; the commands are ${COMMANDS.map((c) => c.name).join(', ')} (see \`hallmark help\`)`);
    const verbs = command.verbs.flatMap((v) => (v.verb ? [v.verb] : []));
    if (flags.help) {
      process.stdout.write(commandHelp(command, verb && verbs.includes(verb) ? verb : undefined));
      return 0;
    }
    if (verbs.length && (!verb || !verbs.includes(verb))) {
      throw usageError(`${verb ? `"${verb}" is not a verb of` : 'a verb is needed for'} \`hallmark ${group}\`: ${[...new Set(verbs)].join(', ')} (see \`hallmark ${group} --help\`)`);
    }
    // An option this verb does not take is a mistake to point out, not something to ignore.
    const allowed = optionsOf(command, verbs.length ? verb : undefined);
    const given = (Object.keys(flags) as OptionName[]).filter((o) => flags[o] !== undefined && flags[o] !== false);
    const foreign = given.filter((o) => !allowed.includes(o));
    const here = `hallmark ${group}${verbs.length ? ` ${verb}` : ''}`;
    if (foreign.length) throw usageError(`${foreign.map((o) => `--${o}`).join(', ')} ${foreign.length === 1 ? 'is not an option' : 'are not options'} of \`${here}\` (see \`${here} --help\`)`);
    // A verb may have several forms (`token create --device` or `--lot --count`): one must be complete.
    const forms = command.verbs.filter((v) => v.verb === (verbs.length ? verb : undefined));
    const missingOf = (form: VerbSpec) => (form.required ?? []).filter((o) => flags[o] === undefined);
    const complete = forms.some((form) => !missingOf(form).length);
    // `cert issue` takes --csr or --dir; the command checks which.
    if (forms.length && !complete) {
      const needs = forms.map((form) => missingOf(form).map((o) => `--${o}`).join(', ')).join(' or ');
      throw usageError(`\`${here}\` needs ${needs} (see \`${here} --help\`)`);
    }
    if (flags.out) checkOutFile(flags.out);
    const outcome = await command.run(verb, rest, flags);
    return outcome === false ? -1 : 0; // serve keeps running
  } catch (e) {
    if (isHallmarkError(e)) {
      process.stderr.write(`hallmark: ${e.message}\n`);
      return e.code === 'usage' ? 2 : 1;
    }
    const system = systemProblem(e);
    process.stderr.write(system ? `hallmark: ${system}\n` : `hallmark: unexpected error: ${(e as Error)?.message ?? e}\n`);
    if (process.env.HALLMARK_DEBUG) process.stderr.write(`${(e as Error)?.stack}\n`);
    return 1;
  }
}
