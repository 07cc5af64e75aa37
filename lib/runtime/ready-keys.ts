/**
 * The keys of a work queue that are ready to run: one heap ordered by priority (higher first),
 * then by a fairness round, then by arrival. The round is start-time fair queuing over the keys'
 * groups (namespaces): within a priority level, a key's round is one past the later of its group's
 * last queued key and the round being served. So a namespace's keys stay FIFO, namespaces take
 * turns (a namespace with 2,000 waiting keys delays another namespace's next key by at most one
 * key per namespace), and a namespace that arrives late joins the current round instead of
 * waiting behind the flood. Every operation is O(log n), removal included.
 */
import { type HeapEntry, IndexedHeap } from "../collections/indexed-heap.ts";

interface Ready extends HeapEntry {
  key: string;
  group: string;
  priority: number;
  round: number;
  seq: number;
  /** The fairness state of its priority level, held here so serving it needs no lookup. */
  level: Level;
}

/** The fairness state of one priority level; dropped when the level empties. */
interface Level {
  /** The round of the key served last at this level. */
  serving: number;
  /** Per group, the round of its last queued key (absent once that key was served). */
  lastRound: Map<string, number>;
  /** Keys queued at this level. */
  size: number;
}

function before(a: Ready, b: Ready): boolean {
  if (a.priority !== b.priority) return a.priority > b.priority;
  if (a.round !== b.round) return a.round < b.round;
  return a.seq < b.seq;
}

/** The ready keys of a work queue, by priority, then namespaces in turn, then arrival. */
export class ReadyKeys {
  readonly #heap = new IndexedHeap<Ready>(before);
  readonly #byKey = new Map<string, Ready>();
  readonly #levels = new Map<number, Level>();
  readonly #groupOf: (key: string) => string;
  #seq = 0;

  /** @param groupOf the fairness group of a key (the same group for a key every time) */
  constructor(groupOf: (key: string) => string) {
    this.#groupOf = groupOf;
  }

  /** Keys ready. */
  get size(): number {
    return this.#heap.size;
  }

  /** Comparisons the heap made so far (its cost, for tests and benchmarks). */
  get comparisons(): number {
    return this.#heap.comparisons;
  }

  /** The priority of a ready key, if it is ready. */
  priorityOf(key: string): number | undefined {
    return this.#byKey.get(key)?.priority;
  }

  /** Queues `key` at `priority`, behind its group's keys of that level; false when it is already ready. */
  push(key: string, priority: number): boolean {
    if (this.#byKey.has(key)) return false;
    const group = this.#groupOf(key);
    let level = this.#levels.get(priority);
    if (!level) this.#levels.set(priority, level = { serving: 0, lastRound: new Map(), size: 0 });
    const last = level.lastRound.get(group) ?? 0;
    const round = (last > level.serving ? last : level.serving) + 1;
    level.lastRound.set(group, round);
    level.size++;
    const entry: Ready = { key, group, priority, round, seq: this.#seq++, level, heapIndex: -1 };
    this.#byKey.set(key, entry);
    this.#heap.push(entry);
    return true;
  }

  /** Takes the key whose turn it is. */
  shift(): string | undefined {
    const entry = this.#heap.pop();
    if (!entry) return undefined;
    this.#byKey.delete(entry.key);
    const level = entry.level;
    level.serving = entry.round;
    // The group's last key left: its next one starts from the round being served.
    if (level.lastRound.get(entry.group) === entry.round) level.lastRound.delete(entry.group);
    this.#leave(entry.priority, level);
    return entry.key;
  }

  /** Moves a ready key to a higher priority (to the back of its group there); never lowers it. */
  raise(key: string, priority: number): void {
    const entry = this.#byKey.get(key);
    if (!entry || priority <= entry.priority) return;
    this.#heap.remove(entry);
    this.#byKey.delete(key);
    this.#leave(entry.priority, entry.level);
    this.push(key, priority);
  }

  /** Empties the set. */
  clear(): void {
    this.#heap.clear();
    this.#byKey.clear();
    this.#levels.clear();
  }

  #leave(priority: number, level: Level): void {
    if (--level.size === 0) this.#levels.delete(priority);
  }
}
