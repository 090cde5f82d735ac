import type { Knex } from 'knex';

declare const opaque: unique symbol;

/**
 * The database as everything outside src/store holds it: an opaque handle that only the store's own
 * functions read or write through. No SQL, query builder or dialect test lives outside src/store.
 */
export type Store = { readonly [opaque]: 'store' };

/** One transaction: everything done through it commits together, or none of it does. */
export type StoreTx = { readonly [opaque]: 'transaction' };

/** Either: a store function that writes one statement takes whichever the caller has. */
export type Handle = Store | StoreTx;

/** The query builder behind a handle; for src/store (and tests that inspect rows) only. */
export const sql = (handle: Handle): Knex => handle as unknown as Knex;

/** The transaction behind a StoreTx; for src/store only. */
export const sqlTx = (tx: StoreTx): Knex.Transaction => tx as unknown as Knex.Transaction;

export const asStore = (db: Knex): Store => db as unknown as Store;
export const asTx = (trx: Knex.Transaction): StoreTx => trx as unknown as StoreTx;

/** Runs `work` in one transaction, committed when it resolves and rolled back when it throws. */
export const inTransaction = <T>(store: Store, work: (tx: StoreTx) => Promise<T>): Promise<T> => sql(store).transaction((trx) => work(asTx(trx)));


/** Closes the store's connections. */
export const closeStore = (store: Store): Promise<void> => sql(store).destroy();
