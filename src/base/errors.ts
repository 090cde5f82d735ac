/**
 * One error type for everything Hallmark refuses on purpose. `code` is stable for scripts and
 * clients; `message` says what went wrong and, where it helps, what to do next. `status` is the
 * HTTP status a protocol adapter should answer with.
 */
export class HallmarkError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'HallmarkError';
  }
}

/** Whatever was thrown, as an Error (per-item results of a batch carry one each). */
export const toError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

export const isHallmarkError = (e: unknown): e is HallmarkError => e instanceof HallmarkError;

/** Problems with the configuration or the environment: a misconfigured deployment, not a bad request. */
export const configError = (message: string) => new HallmarkError('config_invalid', message, 500);
