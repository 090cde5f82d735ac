import { COMMANDS, commandHelp, globalHelp } from '../cli/commands.js';

/** The CLI reference (docs/cli.md): `hallmark help` and every command's help page, from the command table. */
export function cliReference(): string {
  const pages = COMMANDS.map((c) => `## hallmark ${c.name}\n\n\`\`\`\n${commandHelp(c).trimEnd()}\n\`\`\``);
  return `# CLI reference

Generated from the command table (\`src/cli/commands.ts\`) that the parser, \`hallmark help\` and shell
completion are made from (\`npm run docs\`; \`test/docs-generated.test.ts\` fails when they differ).

\`\`\`
${globalHelp().trimEnd()}
\`\`\`

${pages.join('\n\n')}
`;
}
