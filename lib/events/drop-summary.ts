/**
 * The warning summary of what the caller cannot see: drops of invalid events, and occurrences
 * whose text was folded into overflow Events. Each is in the debug log and the metrics too; the
 * summary makes none silent at the default log level while never flooding the log (at most one
 * line a minute per kind).
 */
import { logger } from "../observe/log.ts";
import type { Clock } from "../time/clock.ts";

const log = logger("events");

/** At most one summary line per kind in this long. */
const SUMMARY_INTERVAL_MS = 60_000;

/** The kinds summarised. */
export type SummaryKind = "invalid" | "overflow";

interface Tally {
  count: number;
  /** Wall time of the first occurrence counted, for the log line. */
  since: Date;
  /** Monotonic time of the last summary line. */
  loggedAt: number;
}

/** Counts what the caller cannot see and logs a summary at most once a minute per kind. */
export class DropSummary {
  readonly #clock: Clock;
  readonly #tallies = new Map<SummaryKind, Tally>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Counts `occurrences` of `kind` (`example` names one of them) and logs the summary when it is due. */
  note(kind: SummaryKind, example: string, occurrences = 1): void {
    const now = this.#clock.now();
    const tally = this.#tallies.get(kind) ?? { count: 0, since: this.#clock.wallNow(), loggedAt: -Infinity };
    tally.count += occurrences;
    this.#tallies.set(kind, tally);
    if (now - tally.loggedAt < SUMMARY_INTERVAL_MS) return;
    const since = tally.since.toISOString();
    if (kind === "overflow") {
      log.warning(
        "the event queue was full: the text of {count} Kubernetes event occurrence(s) since {since} was given up " +
          "and their count carried by overflow Events (combined per namespace, type and reason), e.g. for {example}",
        { count: tally.count, since, example },
      );
    } else {
      log.warning("dropped {count} Kubernetes event(s) ({reason}) since {since}, e.g. for {example}", {
        count: tally.count,
        reason: kind,
        since,
        example,
      });
    }
    this.#tallies.set(kind, { count: 0, since: this.#clock.wallNow(), loggedAt: now });
  }
}
