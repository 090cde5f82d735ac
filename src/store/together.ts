/**
 * Independent statements of one transaction, sent at once so that they cost one round trip to the
 * database instead of one each (under load every round trip waits a turn of a busy event loop).
 * Waits for all of them before reporting the first failure: the caller's ROLLBACK must never overtake
 * a statement still on its way, or that statement would run after it, outside the transaction
 * (node-sqlite3 runs a connection's statements in parallel mode; pg queues them in order).
 */
export async function together(statements: Promise<unknown>[]): Promise<void> {
  const outcomes = await Promise.allSettled(statements);
  const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failed) throw failed.reason;
}
