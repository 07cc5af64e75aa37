/**
 * The send queue's priority slots, named for what they hold: a series waits in the slot of its
 * next write (a create or a count update) and its type. Creates go before count updates, because
 * a first occurrence not on the server at all is worse than a count that lags; Warnings before
 * Normals.
 */
import type { EventType } from "./types.ts";

/** A priority slot, named for what it holds. */
export type Slot = "warningCreate" | "normalCreate" | "warningUpdate" | "normalUpdate";

/** The order writes go out in: creates before count updates, Warnings before Normals. */
export const SEND_ORDER: readonly Slot[] = ["warningCreate", "normalCreate", "warningUpdate", "normalUpdate"];

/**
 * Who gives up its text first when the queue is full: Normal count updates (their Event already
 * shows the text), then Normal creates, then Warning count updates; Warning creates last.
 */
export const FOLD_ORDER: readonly Slot[] = ["normalUpdate", "normalCreate", "warningUpdate", "warningCreate"];

/** The slot of a series: what its next write is (create or count update) and its type. */
export function slotOf(s: { created: boolean; type: EventType }): Slot {
  if (s.created) return s.type === "Warning" ? "warningUpdate" : "normalUpdate";
  return s.type === "Warning" ? "warningCreate" : "normalCreate";
}
