/**
 * The warning summary of what the caller cannot see: drops of invalid events, and occurrences
 * whose text was folded into overflow Events. Each is in the debug log and the metrics too; the
 * summary makes none silent at the default log level while never flooding the log (at most one
 * line a minute per kind: what comes within the minute after a line is summarised when it ends,
 * or at close).
 */
import { logger } from "../observe/log.ts";
import type { Clock, TimerHandle } from "../time/clock.ts";

const log = logger("events");

/** At most one summary line per kind in this long. */
const SUMMARY_INTERVAL_MS = 60_000;

/** The kinds summarised. */
export type SummaryKind = "invalid" | "overflow";

interface Tally {
  count: number;
  /** Wall time of the first occurrence counted, for the log line. */
  since: Date;
  /** An example of what was counted, for the log line. */
  example: string;
  /** Monotonic time of the last summary line. */
  loggedAt: number;
  /** Logs what was counted since the last line, once the minute after it is over. */
  timer?: TimerHandle;
}

/** Counts what the caller cannot see and logs a summary at most once a minute per kind. */
export class DropSummary {
  readonly #clock: Clock;
  readonly #tallies = new Map<SummaryKind, Tally>();
  #closed = false;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Counts `occurrences` of `kind` (`example` names one of them) and logs the summary when it is due. */
  note(kind: SummaryKind, example: string, occurrences = 1): void {
    const now = this.#clock.now();
    let tally = this.#tallies.get(kind);
    if (!tally) {
      this.#tallies.set(
        kind,
        tally = { count: 0, since: this.#clock.wallNow(), example, loggedAt: -Infinity },
      );
    } else if (tally.count === 0) tally.since = this.#clock.wallNow();
    tally.count += occurrences;
    tally.example = example;
    const wait = tally.loggedAt + SUMMARY_INTERVAL_MS - now;
    if (wait <= 0) this.#log(kind, tally);
    else if (!this.#closed) {
      // The clock's timers never keep the process alive (backgroundClock), so this one need not.
      tally.timer ??= this.#clock.setTimeout(() => {
        tally.timer = undefined;
        this.#log(kind, tally);
      }, wait);
    }
  }

  /**
   * Logs what has not been summarised yet, at once, and cancels the pending lines (the recorder
   * is closing); later notes arm no timer, so a closed recorder leaves none behind.
   */
  close(): void {
    this.#closed = true;
    for (const [kind, tally] of this.#tallies) {
      this.#clock.clearTimeout(tally.timer);
      tally.timer = undefined;
      this.#log(kind, tally);
    }
  }

  #log(kind: SummaryKind, tally: Tally): void {
    if (tally.count === 0) return;
    const { count, example } = tally;
    const since = tally.since.toISOString();
    if (kind === "overflow") {
      log.warning(
        "the event queue was full: the text of {count} Kubernetes event occurrence(s) since {since} was given up " +
          "and their count carried by overflow Events (combined per namespace, type and reason), e.g. for {example}",
        { count, since, example },
      );
    } else {
      log.warning("dropped {count} Kubernetes event(s) ({reason}) since {since}, e.g. for {example}", {
        count,
        reason: kind,
        since,
        example,
      });
    }
    tally.count = 0;
    tally.loggedAt = this.#clock.now();
  }
}
