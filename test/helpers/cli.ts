import path from 'node:path';
import knexFactory from 'knex';
import { CLI } from './paths.js';
import { run, type RunResult } from './run.js';
import { urlWithSchema, type Backend } from './backends.js';
import type { TestHome } from './hsm.js';

/** The environment a `hallmark` process gets for this home, token and backend. */
export async function cliEnv(home: TestHome, backend: Backend, tokenLabel: string): Promise<NodeJS.ProcessEnv> {
  // A data directory per CA (SQLite file, TLS material); the token configuration stays shared.
  const env: NodeJS.ProcessEnv = { ...home.env, HALLMARK_PKCS11_TOKEN: tokenLabel, HALLMARK_HOME: path.join(home.home, `data-${tokenLabel}`) };
  if (backend.url) {
    // The schema must exist before a process whose search_path names it can migrate into it.
    const db = knexFactory({ client: 'pg', connection: backend.url });
    await db.raw('CREATE SCHEMA IF NOT EXISTS ??', [backend.schema!]);
    await db.destroy();
    env.DATABASE_URL = urlWithSchema(backend);
  }
  return env;
}

export const hallmark = (env: NodeJS.ProcessEnv, ...args: string[]): Promise<RunResult> => run('node', [CLI, ...args], { env });

export async function hallmarkJson<T = any>(env: NodeJS.ProcessEnv, ...args: string[]): Promise<T> {
  const result = await hallmark(env, ...args, '--json');
  if (result.code !== 0) throw new Error(`hallmark ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}
