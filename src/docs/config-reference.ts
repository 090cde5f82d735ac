import { z } from 'zod';
import { configSchema } from '../config/ca-config.js';
import { profileSchema } from '../profiles/schema.js';

/**
 * The configuration reference (docs/configuration.md), made from the schemas that check the files
 * when they are loaded, so that the document cannot drift from what Hallmark accepts.
 */

type JsonSchema = {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: JsonSchema | boolean;
  propertyNames?: JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minItems?: number;
  pattern?: string;
  format?: string;
};

const typeOf = (s: JsonSchema): string => {
  if (s.enum) return s.enum.map((v) => `\`${String(v)}\``).join(', ');
  if (s.const !== undefined) return `\`${String(s.const)}\``;
  const alternatives = s.anyOf ?? s.oneOf;
  if (alternatives) return alternatives.map(typeOf).join(' or ');
  if (s.type === 'array') return `list of ${s.items ? typeOf(s.items) : 'values'}`;
  if (s.format === 'uri') return 'URL';
  return Array.isArray(s.type) ? s.type.join(' or ') : (s.type ?? 'any');
};

const limits = (s: JsonSchema): string =>
  [
    s.minimum !== undefined && s.minimum > Number.MIN_SAFE_INTEGER ? `≥ ${s.minimum}` : '',
    s.exclusiveMinimum !== undefined ? `> ${s.exclusiveMinimum}` : '',
    s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER ? `≤ ${s.maximum}` : '',
    s.minItems !== undefined ? `at least ${s.minItems}` : '',
    s.pattern ? `matches \`${s.pattern}\`` : '',
  ]
    .filter(Boolean)
    .join(', ');

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/**
 * One row per field. `required` is whether the file must say it: a field of a section that has a
 * default is needed only when the section is written out, and its default is the section's.
 */
function rows(schema: JsonSchema, at: string, required: boolean, out: string[], inheritedDefault?: unknown): void {
  const description = schema.description ?? '';
  const own = schema.default ?? inheritedDefault;
  const nested = schema.properties ?? (schema.type === 'array' && schema.items?.properties ? schema.items.properties : undefined);
  const record = typeof schema.additionalProperties === 'object' && schema.additionalProperties.properties ? schema.additionalProperties : undefined;
  const need = required && own === undefined ? 'required' : 'optional';
  if (nested) {
    if (description && at) out.push(`| \`${at}\` | ${schema.type === 'array' ? 'list' : 'section'} | ${need} | | ${cell(description)} |`);
    const owner = schema.properties ? schema : schema.items!;
    const sectionDefault = schema.type === 'array' ? undefined : (own as Record<string, unknown> | undefined);
    for (const [key, child] of Object.entries(nested)) {
      rows(child, `${at}${at ? (schema.type === 'array' ? '[].' : '.') : ''}${key}`, need === 'required' && (owner.required?.includes(key) ?? false), out, sectionDefault?.[key]);
    }
    return;
  }
  if (record) {
    out.push(`| \`${at}\` | map of name → entry | ${need} | ${own !== undefined ? `\`${JSON.stringify(own)}\`` : ''} | ${cell(description)} |`);
    for (const [key, child] of Object.entries(record.properties!)) rows(child, `${at}.<name>.${key}`, record.required?.includes(key) ?? false, out);
    return;
  }
  const shown = [typeOf(schema), limits(schema)].filter(Boolean).join('; ');
  out.push(`| \`${at}\` | ${cell(shown)} | ${need} | ${own === undefined ? '' : cell(`\`${JSON.stringify(own)}\``)} | ${cell(description)} |`);
}

function table(schema: z.ZodType): string {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const out = ['| field | type | | default | meaning |', '|---|---|---|---|---|'];
  for (const [key, child] of Object.entries(json.properties ?? {})) rows(child, key, json.required?.includes(key) ?? false, out);
  return out.join('\n');
}

export function configReference(): string {
  return `# Configuration reference

Generated from the schemas Hallmark checks its files with (\`npm run docs\`; \`test/docs-generated.test.ts\`
fails when this file and the schemas differ). An error in a file names the file, the field and the
problem. Environment variables are in [operators.md](operators.md#environment).

## \`ca-config/hallmark.yaml\` (or \`HALLMARK_CONFIG\`)

${table(configSchema)}

## Profiles: \`ca-config/profiles/<name>.yaml\`

${table(profileSchema)}
`;
}
