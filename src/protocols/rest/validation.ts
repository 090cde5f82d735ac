import type { z } from 'zod';
import { HallmarkError } from '../../base/errors.js';
import { describeZodError } from '../../base/schema-errors.js';

export function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new HallmarkError('invalid_request', describeZodError(where, parsed.error), 400);
  return parsed.data;
}
