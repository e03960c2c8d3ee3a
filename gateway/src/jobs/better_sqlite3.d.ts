/**
 * The part of better-sqlite3's API the job store uses (the package ships no types and
 * `@types/better-sqlite3` is not a dependency).
 */
declare module 'better-sqlite3' {
  /** What a write statement changed. */
  interface RunResult {
    readonly changes: number;
    readonly lastInsertRowid: number | bigint;
  }

  /** A prepared statement; parameters are positional or one object of named ones. */
  interface Statement {
    run(...params: unknown[]): RunResult;
    get(...params: unknown[]): unknown;
    all(...params: unknown[]): unknown[];
  }

  /** An open database connection (synchronous). */
  interface Database {
    prepare(sql: string): Statement;
    exec(sql: string): Database;
    pragma(source: string, options?: { readonly simple?: boolean }): unknown;
    transaction<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R;
    close(): Database;
  }

  /** Constructor options. */
  interface Options {
    readonly readonly?: boolean;
    readonly fileMustExist?: boolean;
    readonly timeout?: number;
  }

  const Database: new (filename: string, options?: Options) => Database;
  export default Database;
  export type { Database as Connection, Statement };
}
