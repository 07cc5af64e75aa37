/**
 * Structured logging for every layer, built on LogTape.
 *
 * Libraries call {@link logger} and never configure anything: LogTape drops records until an
 * application calls {@link configureLogging}, so embedding the toolkit stays silent by default.
 * The CLI configures JSON lines (the default, for log collectors) or readable text (for a terminal).
 */
import {
  configureSync,
  getJsonLinesFormatter,
  getLogger,
  getTextFormatter,
  type Logger,
  type LogLevel,
  type LogRecord,
  parseLogLevel,
  resetSync,
} from "@logtape/logtape";
import process from "node:process";

export type { Logger, LogLevel };

/** The root category of every logger of this toolkit. */
export const ROOT_CATEGORY = "dataflow";

/** Returns the logger for a sub-system, e.g. `logger("kube", "client")`. */
export function logger(...category: string[]): Logger {
  return getLogger([ROOT_CATEGORY, ...category]);
}

/** How log records are printed. */
export type LogFormat = "json" | "text";

/** Options of {@link configureLogging}. */
export interface LoggingOptions {
  /** Lowest level written; `LOG_LEVEL` when omitted, else `info`. */
  level?: string;
  /** `json` (default) or `text`; `LOG_FORMAT` when omitted. */
  format?: LogFormat;
  /** Where lines go; standard error by default. Tests pass a collector. */
  write?: (line: string) => void;
}

/** The accepted spellings of a log level, as users type them in LOG_LEVEL. */
export function toLogLevel(value: string | undefined): LogLevel {
  const v = (value ?? "info").trim().toLowerCase();
  const alias: Record<string, string> = { warn: "warning", err: "error", fatal: "fatal", trace: "trace" };
  try {
    return parseLogLevel(alias[v] ?? v);
  } catch {
    throw new Error(
      `LOG_LEVEL "${value}" is not a log level; use one of trace, debug, info, warning, error, fatal`,
    );
  }
}

/**
 * Configures the process-wide log output. Safe to call again (tests do): the previous
 * configuration is replaced.
 */
export function configureLogging(options: LoggingOptions = {}): void {
  const level = toLogLevel(options.level ?? process.env.LOG_LEVEL);
  const format = options.format ?? (process.env.LOG_FORMAT === "text" ? "text" : "json");
  const formatter = format === "json"
    ? getJsonLinesFormatter({ categorySeparator: ".", message: "rendered", properties: "flatten" })
    : getTextFormatter({ timestamp: "date-time-tz", category: "." });
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  resetSync();
  configureSync({
    reset: true,
    sinks: { out: (record: LogRecord) => write(formatter(record)) },
    loggers: [
      { category: [ROOT_CATEGORY], lowestLevel: level, sinks: ["out"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["out"] },
    ],
  });
}

/** A short random id, used to tie the log lines of one reconcile together. */
export function shortId(): string {
  return Math.random().toString(36).slice(2, 8);
}
