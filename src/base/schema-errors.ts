import type { ZodError } from 'zod';

/** "file: field.path: problem" for each issue, so an operator knows exactly what to edit. */
export function describeZodError(file: string, error: ZodError): string {
  return error.issues
    .map((issue) => `${file}: ${issue.path.length ? issue.path.join('.') : '(top level)'}: ${issue.message}`)
    .join('\n');
}
