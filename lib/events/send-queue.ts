/**
 * The writer's queue of series that need a write, in named priority slots. A series waits in the
 * slot of what it holds (a Warning or Normal create or count update); once due it moves to that
 * slot's ready line, where namespaces take turns (round-robin, FIFO inside one), so one tenant's
 * flood never delays another's events; or it is held back while the owner's own writes wait.
 */
import { FairQueue } from "../collections/fair-queue.ts";
import type { Series } from "./series.ts";
import { FOLD_ORDER, SEND_ORDER, type Slot, slotOf } from "./slots.ts";

const perSlot = <T>(make: () => T): Record<Slot, T> => ({
  warningCreate: make(),
  normalCreate: make(),
  warningUpdate: make(),
  normalUpdate: make(),
});

/** Series waiting for a write, by slot and namespace; what is due, and what is held. */
export class SendQueue {
  /** Every waiting series, by slot, oldest first. */
  readonly #waiting = perSlot(() => new Set<Series>());
  /** Series due for a write, per slot. */
  readonly #ready = perSlot(() => new FairQueue<Series>((s) => s.namespace));
  /** Series held back while the owner is busy, roughly oldest first. */
  readonly #held = new Set<Series>();
  /** Series waiting per namespace (to tell a burst from a tenant's occasional event). */
  readonly #byNamespace = new Map<string, number>();
  #size = 0;
  #overflowSize = 0;

  /** Series waiting. */
  get size(): number {
    return this.#size;
  }

  /** Overflow Events among the waiting series (they do not count against the queue's bound). */
  get overflowSize(): number {
    return this.#overflowSize;
  }

  /** Series held back for the owner. */
  get heldCount(): number {
    return this.#held.size;
  }

  /** Series waiting in `namespace`. */
  waitingIn(namespace: string): number {
    return this.#byNamespace.get(namespace) ?? 0;
  }

  /** Every waiting series, slot by slot in {@link FOLD_ORDER}, oldest first within a slot. */
  *inFoldOrder(): IterableIterator<Series> {
    for (const slot of FOLD_ORDER) yield* this.#waiting[slot];
  }

  /** Every waiting series (a snapshot: safe to change the queue while iterating). */
  all(): Series[] {
    return SEND_ORDER.flatMap((slot) => [...this.#waiting[slot]]);
  }

  /**
   * Marks `s` as waiting in the slot of its next write (moving it when that changed); true when
   * it was not waiting before.
   */
  add(s: Series): boolean {
    const slot = slotOf(s);
    if (s.waitingIn === slot) return false;
    const moved = s.waitingIn !== undefined;
    if (moved) this.#waiting[s.waitingIn!].delete(s);
    else {
      this.#size++;
      if (s.overflow) this.#overflowSize++;
      this.#byNamespace.set(s.namespace, this.waitingIn(s.namespace) + 1);
    }
    this.#waiting[slot].add(s);
    s.waitingIn = slot;
    s.pending = true;
    return !moved;
  }

  /** Takes `s` out of the queue (ready line, held set and slot); false when it was not waiting. */
  remove(s: Series): boolean {
    this.unready(s);
    if (s.waitingIn === undefined) return false;
    this.#waiting[s.waitingIn].delete(s);
    const left = this.waitingIn(s.namespace) - 1;
    if (left > 0) this.#byNamespace.set(s.namespace, left);
    else this.#byNamespace.delete(s.namespace);
    s.waitingIn = undefined;
    s.pending = false;
    this.#size--;
    if (s.overflow) this.#overflowSize--;
    return true;
  }

  /** Puts `s` in the ready line of its slot. */
  ready(s: Series): void {
    const slot = slotOf(s);
    this.#ready[slot].add(s);
    s.readyIn = slot;
  }

  /** Takes `s` out of its ready line or the held set (it stays waiting). */
  unready(s: Series): void {
    if (s.readyIn === "held") this.#held.delete(s);
    else if (s.readyIn !== undefined) this.#ready[s.readyIn].delete(s);
    s.readyIn = undefined;
  }

  /** The series whose turn it is in `slot`'s ready line. */
  peek(slot: Slot): Series | undefined {
    return this.#ready[slot].peek();
  }

  /** Takes the series whose turn it is in `slot`'s ready line (it stays waiting). */
  take(slot: Slot): Series | undefined {
    const s = this.#ready[slot].shift();
    if (s) s.readyIn = undefined;
    return s;
  }

  /** Holds `s` back for the owner (it leaves its ready line). */
  hold(s: Series): void {
    this.unready(s);
    this.#held.add(s);
    s.readyIn = "held";
  }

  /** Puts held series back in their ready lines, oldest first, until `keep` says to stop. */
  release(keep: (s: Series) => boolean): void {
    for (const s of this.#held) {
      // Held series are roughly in emission order: the first one to keep ends the scan.
      if (keep(s)) break;
      this.#held.delete(s);
      this.ready(s);
    }
  }

  /** The oldest held series, if any. */
  oldestHeld(): Series | undefined {
    for (const s of this.#held) return s;
    return undefined;
  }
}
