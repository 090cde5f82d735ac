import { openContext, type AppContext, type ContextOptions } from '../app/context.js';

/** Opens the context a command needs, runs it, and always closes the database and the token. */
export async function withContext<T>(options: ContextOptions, work: (ctx: AppContext) => Promise<T>): Promise<T> {
  const ctx = await openContext(options);
  try {
    return await work(ctx);
  } finally {
    await ctx.close();
  }
}
