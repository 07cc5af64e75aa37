/**
 * A {@link LeaderLock} in memory, for tests of leader election and of leader-gated code without
 * an API server: one {@link MemoryLockStore} plays the lock object, each candidate gets its own
 * {@link MemoryLock} handle with the same optimistic-concurrency rules as the Lease lock. Faults
 * are scripted with {@link MemoryLockStore.intercept}.
 */
import { AlreadyExistsError, ConflictError } from "../kube/errors.ts";
import type { LeaderLock, LeaseRecord } from "./leader-lock.ts";

/** One operation on the store, as {@link MemoryLockStore.intercept} and {@link MemoryLockStore.calls} see it. */
export interface MemoryLockCall {
  /** The operation. */
  op: "get" | "create" | "update";
  /** The handle's identity. */
  identity: string;
  /** The record written (create, update). */
  record?: LeaseRecord;
  /** The request's signal: an interceptor that hangs should give up when it aborts. */
  signal: AbortSignal;
}

/** The shared lock object. */
export class MemoryLockStore {
  /** Every operation, in order, with its outcome once settled. */
  readonly calls: (MemoryLockCall & { outcome?: "ok" | Error })[] = [];
  /**
   * Runs before each operation: throw (or reject) to fail it, return a promise to delay it.
   * The operation then runs against the store as it is when the promise settles.
   */
  intercept?: (call: MemoryLockCall) => void | Promise<void>;
  #record?: LeaseRecord;
  #version = 0;
  #watchers = new Set<(record: LeaseRecord | undefined) => void>();

  /** An empty store (no lock object yet). */
  constructor(readonly name = "lock") {}

  /** The record now (a copy), or undefined while the lock object does not exist. */
  get record(): LeaseRecord | undefined {
    return this.#record && { ...this.#record };
  }

  /** Bumped by every write: what a handle's update is conditional on. */
  get version(): number {
    return this.#version;
  }

  /** Writes the record from outside (another writer), or deletes it with `undefined`. */
  set(record: LeaseRecord | undefined): void {
    this.#record = record && { ...record };
    this.#version++;
    for (const w of this.#watchers) w(this.record);
  }

  /** A handle for one candidate. */
  lock(identity: string): MemoryLock {
    return new MemoryLock(this, identity);
  }

  /** Runs one operation through {@link intercept} and records its outcome. */
  async run<T>(call: MemoryLockCall, body: () => T): Promise<T> {
    const entry: MemoryLockCall & { outcome?: "ok" | Error } = { ...call };
    this.calls.push(entry);
    try {
      if (call.signal.aborted) throw call.signal.reason;
      await this.intercept?.(call);
      if (call.signal.aborted) throw call.signal.reason;
      const result = body();
      entry.outcome = "ok";
      return result;
    } catch (err) {
      entry.outcome = err as Error;
      throw err;
    }
  }

  /** Subscribes to writes until `signal` aborts. */
  subscribe(signal: AbortSignal, onChange: (record: LeaseRecord | undefined) => void): Promise<void> {
    this.#watchers.add(onChange);
    return new Promise((resolve) => {
      const done = () => {
        this.#watchers.delete(onChange);
        resolve();
      };
      if (signal.aborted) done();
      else signal.addEventListener("abort", done, { once: true });
    });
  }
}

/** One candidate's handle on a {@link MemoryLockStore}. */
export class MemoryLock implements LeaderLock {
  /** The store version this handle last read or wrote (undefined before the first get or create). */
  #seen?: number;

  /** A handle of `identity` on `store` that has not read it yet. */
  constructor(readonly store: MemoryLockStore, readonly identity: string) {}

  /** The store's name. */
  get name(): string {
    return this.store.name;
  }

  /** `memory/<name>`. */
  describe(): string {
    return `memory/${this.store.name}`;
  }

  /** Reads the record and remembers its version. */
  get(signal: AbortSignal): Promise<LeaseRecord | undefined> {
    return this.store.run({ op: "get", identity: this.identity, signal }, () => {
      this.#seen = this.store.version;
      return this.store.record;
    });
  }

  /** Creates the record; AlreadyExistsError when it exists. */
  create(record: LeaseRecord, signal: AbortSignal): Promise<void> {
    return this.store.run({ op: "create", identity: this.identity, record: { ...record }, signal }, () => {
      if (this.store.record) {
        throw new AlreadyExistsError(`${this.describe()} already exists`, {
          code: 409,
          reason: "AlreadyExists",
        });
      }
      this.store.set(record);
      this.#seen = this.store.version;
    });
  }

  /** Replaces the record; ConflictError when another write came after this handle's last read or write. */
  update(record: LeaseRecord, signal: AbortSignal): Promise<void> {
    return this.store.run({ op: "update", identity: this.identity, record: { ...record }, signal }, () => {
      if (this.#seen === undefined) throw new Error(`${this.describe()}: update before get or create`);
      if (this.#seen !== this.store.version || !this.store.record) {
        throw new ConflictError(`${this.describe()} was modified`, { code: 409, reason: "Conflict" });
      }
      this.store.set(record);
      this.#seen = this.store.version;
    });
  }

  /** Calls `onChange` with every write to the store until `signal` aborts. */
  watch(signal: AbortSignal, onChange: (record: LeaseRecord | undefined) => void): Promise<void> {
    return this.store.subscribe(signal, onChange);
  }
}
