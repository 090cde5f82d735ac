import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { configError } from '../base/errors.js';
import { describeZodError } from '../base/schema-errors.js';
import { profileSchema, type Profile } from './schema.js';

export type { Profile } from './schema.js';

/** Loads every `*.yaml` under `dir`; each error names the file, the field and the problem. */
export function loadProfiles(dir: string, caNames: Set<string>): Map<string, Profile> {
  let files: string[];
  try {
    files = fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
  } catch (e) {
    throw configError(`${dir}: cannot read the profiles directory: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  const profiles = new Map<string, Profile>();
  for (const name of files) {
    const file = path.join(dir, name);
    let raw: unknown;
    try {
      raw = YAML.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      throw configError(`${file}: not valid YAML: ${(e as Error).message}`);
    }
    const parsed = profileSchema.safeParse(raw);
    if (!parsed.success) throw configError(describeZodError(file, parsed.error));
    const profile = parsed.data;
    if (!caNames.has(profile.issuer)) throw configError(`${file}: issuer: unknown CA "${profile.issuer}"`);
    if (profiles.has(profile.name)) throw configError(`${file}: name: profile "${profile.name}" is defined twice`);
    profiles.set(profile.name, profile);
  }
  return profiles;
}
