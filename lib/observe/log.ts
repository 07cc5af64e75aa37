/**
 * Structured logging for every layer, built on LogTape.
 *
 * Libraries call {@link logger} and never configure anything: LogTape drops records until an
 * application calls {@link configureLogging}, so embedding the toolkit stays silent by default.
 * The CLI configures JSON lines (the default, for log collectors) or readable text (for a terminal).
 *
 * Both formats render a message's values as they are: a string without quotes or escapes (only
 * control characters are escaped, so a record stays one line), an error as its message, anything
 * else as compact JSON. JSON lines carry the values again as plain top-level fields.
 */
import {
  configureSync,
  getLogger,
  getTextFormatter,
  type Logger as LogTapeLogger,
  type LogRecord,
  parseLogLevel,
  resetSync,
} from "@logtape/logtape";
import process from "node:process";
import { ConfigError } from "./config-error.ts";

/** The severity of a record, lowest first (LogTape's levels). */
export type LogLevel = "trace" | "debug" | "info" | "warning" | "error" | "fatal";

/** A record's values: placeholders `{name}` in the message are filled from them. */
export type LogProperties = Record<string, unknown> | (() => Record<string, unknown>);

/**
 * A logger of one sub-system: LogTape's message-and-properties calls, e.g.
 * `log.info("reconciled {key}", { key })`.
 */
export interface Logger {
  /** The full category, root first (e.g. `["dataflow", "kube", "client"]`). */
  readonly category: readonly string[];
  /** Writes a `trace` record. */
  trace(message: string, properties?: LogProperties): void;
  /** Writes a `debug` record. */
  debug(message: string, properties?: LogProperties): void;
  /** Writes an `info` record. */
  info(message: string, properties?: LogProperties): void;
  /** Writes a `warning` record (the same as {@link Logger.warning}). */
  warn(message: string, properties?: LogProperties): void;
  /** Writes a `warning` record. */
  warning(message: string, properties?: LogProperties): void;
  /** Writes an `error` record. */
  error(message: string, properties?: LogProperties): void;
  /** Writes a `fatal` record. */
  fatal(message: string, properties?: LogProperties): void;
  /** A logger whose records all carry these properties too. */
  with(properties: Record<string, unknown>): Logger;
  /** The logger of a sub-category, e.g. `logger("kube").getChild("watch")`. */
  getChild(subcategory: string): Logger;
  /** Whether a record of this level would be written (to skip costly properties). */
  isEnabledFor(level: LogLevel): boolean;
}

/**
 * The root category when the application names none: the toolkit carries no application name,
 * so its records read `operator.kube.client` until {@link configureLogging} is given the
 * application's own (the DataFlow operator passes `dataflow`).
 */
export const DEFAULT_ROOT_CATEGORY = "operator";

let rootCategory = DEFAULT_ROOT_CATEGORY;
// Bumped whenever the root changes, so that loggers made before re-resolve on their next record.
let rootGeneration = 0;

/**
 * Returns the logger for a sub-system, e.g. `logger("kube", "client")`, under the application's
 * root category. Modules take their loggers when they load, before the application has named
 * itself, so the root is looked up when a record is written, not when the logger is made.
 */
export function logger(...category: string[]): Logger {
  return new RootedLogger(category, []);
}

/** A LogTape logger whose category starts with whatever root is configured at the time of use. */
class RootedLogger implements Logger {
  readonly #category: readonly string[];
  readonly #properties: readonly Record<string, unknown>[];
  #resolved: LogTapeLogger | undefined;
  #generation = -1;

  constructor(category: readonly string[], properties: readonly Record<string, unknown>[]) {
    this.#category = category;
    this.#properties = properties;
  }

  #current(): LogTapeLogger {
    if (this.#generation !== rootGeneration || !this.#resolved) {
      let resolved = getLogger([rootCategory, ...this.#category]);
      for (const props of this.#properties) resolved = resolved.with(props);
      this.#resolved = resolved;
      this.#generation = rootGeneration;
    }
    return this.#resolved;
  }

  get category(): readonly string[] {
    return this.#current().category;
  }

  trace(message: string, properties?: LogProperties): void {
    this.#current().trace(message, properties);
  }

  debug(message: string, properties?: LogProperties): void {
    this.#current().debug(message, properties);
  }

  info(message: string, properties?: LogProperties): void {
    this.#current().info(message, properties);
  }

  warn(message: string, properties?: LogProperties): void {
    this.#current().warning(message, properties);
  }

  warning(message: string, properties?: LogProperties): void {
    this.#current().warning(message, properties);
  }

  error(message: string, properties?: LogProperties): void {
    this.#current().error(message, properties);
  }

  fatal(message: string, properties?: LogProperties): void {
    this.#current().fatal(message, properties);
  }

  with(properties: Record<string, unknown>): Logger {
    return new RootedLogger(this.#category, [...this.#properties, properties]);
  }

  getChild(subcategory: string): Logger {
    return new RootedLogger([...this.#category, subcategory], this.#properties);
  }

  isEnabledFor(level: LogLevel): boolean {
    return this.#current().isEnabledFor(level);
  }
}

/** How log records are printed. */
export type LogFormat = "json" | "text";

/** The accepted values of `LOG_FORMAT`. */
const LOG_FORMATS: readonly LogFormat[] = ["json", "text"];

/** Options of {@link configureLogging}. */
export interface LoggingOptions {
  /** Lowest level written; `LOG_LEVEL` when omitted, else `info`. */
  level?: string;
  /**
   * `json` (default) or `text`; `LOG_FORMAT` when omitted. Any other value (as typed in
   * `LOG_FORMAT`) makes {@link configureLogging} throw a ConfigError.
   */
  format?: LogFormat | string;
  /** Where lines go; standard error by default. Tests pass a collector. */
  write?: (line: string) => void;
  /**
   * The root category of every record, the application's name (`dataflow` gives
   * `dataflow.kube.client`); {@link DEFAULT_ROOT_CATEGORY} when omitted.
   */
  category?: string;
}

/**
 * The accepted spellings of a log level, as users type them in LOG_LEVEL.
 * @throws ConfigError for anything else, e.g. `LOG_LEVEL=verbose: expected one of trace, debug, ...`
 */
export function toLogLevel(value: string | undefined): LogLevel {
  const v = (value ?? "").trim().toLowerCase() || "info";
  const alias: Record<string, string> = { warn: "warning", err: "error" };
  try {
    return parseLogLevel(alias[v] ?? v);
  } catch {
    throw new ConfigError(
      `LOG_LEVEL=${value}: expected one of trace, debug, info, warning, error, fatal`,
    );
  }
}

/**
 * The log format named by `value` (`LOG_FORMAT`); unset or empty means `json`.
 * @throws ConfigError for anything but json or text: `LOG_FORMAT=xml: expected json or text`
 */
export function toLogFormat(value: string | undefined): LogFormat {
  const v = (value ?? "").trim().toLowerCase() || "json";
  if ((LOG_FORMATS as readonly string[]).includes(v)) return v as LogFormat;
  throw new ConfigError(`LOG_FORMAT=${value}: expected ${LOG_FORMATS.join(" or ")}`);
}

// Control characters (C0, DEL, C1) and the two JavaScript line separators: escaped in rendered
// values so that no value can break a record into two lines or drive the terminal.
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const NAMED_ESCAPES: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

function escapeControl(text: string): string {
  return text.replace(
    CONTROL,
    (c) => NAMED_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * JSON.stringify's replacer for values in log records: errors as their message, bigints as text,
 * maps as objects, sets as arrays, and an object that contains itself as "[Circular]" where it
 * recurs (an object merely met twice, such as one label set in two properties, is written twice).
 */
function plainReplacer(): (this: unknown, key: string, value: unknown) => unknown {
  // The objects from the root down to the one being written, each with what it was written as
  // (a Map becomes an object): JSON.stringify calls the replacer with the holder as `this`.
  const path: { original: object; written: unknown }[] = [];
  return function (this: unknown, _key: string, value: unknown): unknown {
    if (typeof value === "bigint") return value.toString();
    if (value instanceof Error) return value.message || value.name;
    if (typeof value !== "object" || value === null) return value;
    while (path.length > 0 && path[path.length - 1].written !== this) path.pop();
    if (path.some((p) => p.original === value)) return "[Circular]";
    const written = value instanceof Map
      ? Object.fromEntries(value)
      : value instanceof Set
      ? [...value]
      : value;
    path.push({ original: value, written });
    return written;
  };
}

/**
 * How a value appears inside a rendered message: a string as it is (no quotes), an error as its
 * message, a number, boolean, null or undefined as written, anything else as compact JSON;
 * control characters escaped (unless `escape` is false: JSON escapes them itself), so the result
 * is always one line.
 */
function renderValue(value: unknown, escape = true): string {
  let text: string;
  if (typeof value === "string") text = value;
  else if (value instanceof Error) text = value.message || value.name;
  else if (value === null || value === undefined || typeof value !== "object") text = String(value);
  else {
    try {
      text = JSON.stringify(value, plainReplacer()) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return escape ? escapeControl(text) : text;
}

/** The message of a record with {@link renderValue} for each value. */
function renderMessage(record: LogRecord, escape = true): string {
  let out = "";
  for (let i = 0; i < record.message.length; i++) {
    const part = record.message[i];
    out += i % 2 === 0 ? String(part) : renderValue(part, escape);
  }
  return out;
}

const CORE_FIELDS = new Set(["@timestamp", "level", "message", "logger"]);

/**
 * One JSON line: `@timestamp`, `level` (`DEBUG`, `INFO`, `WARN`, ...), `message` (rendered as in
 * the text format: values without quotes), `logger`, then every property as a plain top-level
 * field (errors as their message). A property that would overwrite one of the first four is kept
 * as `property.<name>`.
 */
function formatJsonLine(record: LogRecord): string {
  const out: Record<string, unknown> = {
    "@timestamp": new Date(record.timestamp).toISOString(),
    level: record.level === "warning" ? "WARN" : record.level.toUpperCase(),
    message: renderMessage(record, false),
    logger: record.category.join("."),
  };
  for (const [key, value] of Object.entries(record.properties)) {
    out[CORE_FIELDS.has(key) ? `property.${key}` : key] = value;
  }
  let json: string;
  try {
    json = JSON.stringify(out, plainReplacer());
  } catch (err) {
    // A property whose toJSON throws: keep the line, without the properties.
    const { "@timestamp": at, level, message, logger: category } = out;
    json = JSON.stringify({ "@timestamp": at, level, message, logger: category, logError: String(err) });
  }
  // DEL, the C1 controls, U+2028 and U+2029 are valid in JSON strings, but may drive a terminal or
  // end a line for some readers.
  const safe = json.replace(
    /[\u007f-\u009f\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return safe + "\n";
}

/** One text line: `2026-01-02 03:04:05.000 +00 [INF] operator.kube.client: message`. */
const formatTextLine: (record: LogRecord) => string = getTextFormatter({
  timestamp: "date-time-tz",
  category: ".",
  value: (v) => renderValue(v),
});

/**
 * Configures the process-wide log output. Safe to call again (tests do): the previous
 * configuration is replaced.
 * @throws ConfigError when the level or the format is not one of the accepted values (the
 *   configuration in place is then left unchanged)
 */
export function configureLogging(options: LoggingOptions = {}): void {
  const level = toLogLevel(options.level ?? process.env.LOG_LEVEL);
  const format = toLogFormat(options.format ?? process.env.LOG_FORMAT);
  const formatter = format === "json" ? formatJsonLine : formatTextLine;
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const root = options.category ?? DEFAULT_ROOT_CATEGORY;
  if (!root) throw new ConfigError("the root log category must not be empty");
  if (root !== rootCategory) {
    rootCategory = root;
    rootGeneration++;
  }
  resetSync();
  configureSync({
    reset: true,
    sinks: { out: (record: LogRecord) => write(formatter(record)) },
    loggers: [
      { category: [root], lowestLevel: level, sinks: ["out"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["out"] },
    ],
  });
}

/** A short random id, used to tie the log lines of one reconcile together. */
export function shortId(): string {
  return Math.random().toString(36).slice(2, 8);
}
