/**
 * The operator's command line, parsed and validated before anything connects or listens.
 *
 * Flags are spelled as Go's `flag` package and controller-runtime take them, so a Deployment
 * written for the Go operator starts unchanged: `--name=value`, `--name value`, one or two dashes,
 * booleans as `--name` or `--name=true|false`, the last occurrence wins. The Go operator's zap
 * flags are accepted: `--zap-log-level`, `--zap-devel` and `--zap-encoder` map onto LOG_LEVEL and
 * LOG_FORMAT; `--zap-stacktrace-level` and `--zap-time-encoding` are validated and ignored (the
 * CLI logs one warning naming them). Anything else is refused with one line and exit code 2.
 */
import { isIP } from "node:net";
import { toLogFormat } from "../observe/mod.ts";
import { ConfigError, isInCluster } from "../kube/mod.ts";
import { parseProcessorPolicy, type ProcessorPolicy } from "./policy.ts";

/** A command line the operator refuses (an unknown flag, a missing value): exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Kubernetes' DNS label rule for namespace names. */
const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Parses a comma-separated namespace list (`a,b,c`): trimmed, de-duplicated, each a valid
 * namespace name. Throws with the offending entry named.
 */
export function parseNamespaceList(text: string, flag: string): string[] {
  const names = [...new Set(text.split(",").map((s) => s.trim()).filter(Boolean))];
  if (!names.length) throw new Error(`${flag}: expected a comma-separated list of namespaces, got "${text}"`);
  for (const n of names) {
    if (n.length > 63 || !NAMESPACE_NAME.test(n)) {
      throw new Error(
        `${flag}: "${n}" is not a namespace name (lowercase letters, digits and '-', at most 63 characters)`,
      );
    }
  }
  return names;
}

/** Reconcile workers by default: parallel DataFlows (one key never runs twice at once). */
export const DEFAULT_CONCURRENCY = 4;

/** Every flag, by name, and whether it takes a value (`string`) or is a switch (`boolean`). */
export const FLAGS = {
  help: "boolean",
  kubeconfig: "string",
  context: "string",
  namespace: "string",
  namespaces: "string",
  "metrics-bind-address": "string",
  "health-probe-bind-address": "string",
  "leader-elect": "boolean",
  "leader-election-namespace": "string",
  "max-concurrent-reconciles": "string",
  "cache-sync-timeout": "string",
  "log-file": "string",
  "zap-log-level": "string",
  "zap-devel": "boolean",
  "zap-encoder": "string",
  "zap-stacktrace-level": "string",
  "zap-time-encoding": "string",
} as const satisfies Record<string, "string" | "boolean">;

/** A flag's name. */
export type FlagName = keyof typeof FLAGS;

/** Flags of the Go operator that are accepted (and validated) but change nothing here. */
export const IGNORED_GO_FLAGS: readonly FlagName[] = ["zap-stacktrace-level", "zap-time-encoding"];

/** A parsed command line of `run` (and the other operator commands). */
export type CommandLine = ParsedFlags<FlagName>;

/**
 * Splits argv into flags and positionals.
 * @throws UsageError for an unknown flag or a flag without its value
 */
export function parseCommandLine(argv: string[]): CommandLine {
  return parseFlags(argv, FLAGS, (name, value) =>
    // Go's flag package has no negation; --no-leader-elect is this operator's spelling of =false.
    name === "no-leader-elect" && value === undefined ? ["leader-elect", "false"] : [name, value]);
}

/** What {@link parseFlags} found. */
export interface ParsedFlags<F extends string> {
  /** Each flag's last value; a boolean given bare is "true". */
  values: Partial<Record<F, string>>;
  /** Each flag as it was typed last (without a separate value), e.g. `-zap-devel` or `--context`. */
  spelled: Partial<Record<F, string>>;
  positionals: string[];
}

/**
 * The command-line grammar of the operator's commands, Go's flag package's: one or two dashes,
 * `--flag=value` or `--flag value`, a boolean flag alone means true, `-h` is `--help`, `--` ends
 * the flags.
 * @param kinds every flag the command knows, with whether it takes a value
 * @param alias rewrites a flag as typed (name without dashes, inline value) before it is looked up
 * @throws UsageError for an unknown flag or a flag without its value
 */
export function parseFlags<F extends string>(
  argv: string[],
  kinds: Record<F, "boolean" | "string">,
  alias: (name: string, value: string | undefined) => [string, string | undefined] = (n, v) => [n, v],
): ParsedFlags<F> {
  const out: ParsedFlags<F> = { values: {}, spelled: {}, positionals: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      out.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      out.positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const spelled = eq < 0 ? arg : arg.slice(0, eq);
    const typed = spelled.replace(/^--?/, "");
    let [name, value] = alias(typed === "h" ? "help" : typed, eq < 0 ? undefined : arg.slice(eq + 1));
    if (!Object.hasOwn(kinds, name)) throw new UsageError(`unknown flag ${spelled}`);
    const flag = name as F;
    if (value === undefined) {
      if (kinds[flag] === "boolean") value = "true";
      else {
        const next = argv[i + 1];
        if (next === undefined || (next.startsWith("-") && next !== "-")) {
          throw new UsageError(`flag ${spelled} needs a value`);
        }
        value = next;
        i++;
      }
    }
    out.values[flag] = value;
    out.spelled[flag] = spelled;
  }
  return out;
}

/** A boolean as Go's strconv.ParseBool takes it (plus yes/no). */
export function parseBool(flag: string, v: string): boolean {
  if (/^(true|t|1|yes)$/i.test(v)) return true;
  if (/^(false|f|0|no)$/i.test(v)) return false;
  throw new ConfigError(`--${flag}=${v}: expected true or false`);
}

function parsePositiveInt(flag: string, v: string): number {
  const n = Number(v);
  if (!/^\s*\d+\s*$/.test(v) || !Number.isInteger(n) || n < 1 || n > 256) {
    throw new ConfigError(`--${flag}=${v}: expected a whole number from 1 to 256`);
  }
  return n;
}

// RFC 1123 host names (what Go's net.Listen would resolve).
const HOSTNAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** A bind address split up; undefined for "0" or "" (disabled). */
function splitBindAddress(value: string): { host: string; port: number } | undefined {
  if (value === "0" || value === "") return undefined;
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(value);
  if (!m) throw new Error("syntax");
  const port = Number(m[3]);
  const host = m[1] ?? m[2];
  if (port > 65535) throw new Error("port");
  if (m[1] !== undefined && isIP(m[1]) !== 6) throw new Error("ipv6");
  if (m[2] && !isIP(m[2]) && !HOSTNAME.test(m[2])) throw new Error("host");
  return { host, port };
}

/**
 * Checks a `--metrics-bind-address` / `--health-probe-bind-address` value: `host:port`, `:port`
 * (all interfaces), `[v6]:port`, or `0` to disable (an empty value disables too, as in the library).
 * @throws ConfigError `--metrics-bind-address=bogus: expected [host]:port or 0`
 */
export function checkBindAddress(flag: string, value: string): string {
  try {
    splitBindAddress(value);
  } catch {
    throw new ConfigError(`--${flag}=${value}: expected [host]:port or 0`);
  }
  return value;
}

/** Default bind addresses: every interface in a pod (the kubelet probes the pod IP), else loopback. */
export function defaultBindAddresses(
  env: Record<string, string | undefined>,
): { metrics: string; health: string } {
  return isInCluster(env)
    ? { metrics: ":9090", health: ":9091" }
    : { metrics: "127.0.0.1:9090", health: "127.0.0.1:9091" };
}

const ZAP_LEVELS: Record<string, string> = {
  debug: "debug",
  info: "info",
  warn: "warning",
  error: "error",
  dpanic: "fatal",
  panic: "fatal",
  fatal: "fatal",
};
const ZAP_TIME_ENCODINGS = ["epoch", "millis", "nano", "iso8601", "rfc3339", "rfc3339nano"];

/** `--zap-log-level` as a LOG_LEVEL: a zap level name, or verbosity n > 0 (1 debug, 2 and up trace). */
export function zapLogLevel(v: string): string {
  const s = v.trim().toLowerCase();
  if (Object.hasOwn(ZAP_LEVELS, s)) return ZAP_LEVELS[s];
  if (/^\d+$/.test(s) && Number(s) > 0) return Number(s) === 1 ? "debug" : "trace";
  throw new ConfigError(
    `--zap-log-level=${v}: expected debug, info, warn, error, panic or a whole number above 0`,
  );
}

/** `--zap-encoder` as a LOG_FORMAT. */
export function zapEncoder(v: string): "json" | "text" {
  const s = v.trim().toLowerCase();
  if (s === "json") return "json";
  if (s === "console") return "text";
  throw new ConfigError(`--zap-encoder=${v}: expected json or console`);
}

/** A Go duration as controller-runtime's flags take it (`90s`, `2m`, `1m30s`, `500ms`), in milliseconds. */
export function parseDuration(flag: string, v: string): number {
  const units: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
  const parts = [...v.trim().matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  const ms = parts.reduce((sum, [, n, unit]) => sum + Number(n) * units[unit], 0);
  if (!parts.length || parts.map((p) => p[0]).join("") !== v.trim() || !(ms > 0)) {
    throw new ConfigError(`--${flag}=${v}: expected a duration such as 90s, 2m or 1m30s`);
  }
  return ms;
}

/** Everything `run` needs from its flags and environment, validated. */
export interface RunSettings {
  leaderElect: boolean;
  /** Watched namespaces; undefined: all. */
  namespaces?: string[];
  concurrency: number;
  /** How long the leader waits for its caches to sync before it exits with the reason. */
  cacheSyncTimeoutMs: number;
  metricsBindAddress: string;
  healthBindAddress: string;
  /** The log level as configureLogging takes it (still to be validated there when from LOG_LEVEL). */
  logLevel: string;
  logFormat: "json" | "text";
  /** Write the log here instead of standard error. */
  logFile?: string;
  /** Go operator flags given that have no effect, as typed (`--zap-time-encoding=iso8601`). */
  ignoredFlags: string[];
  /** What tenants may ask for in placement and resources (PROCESSOR_POLICY; default: policy.ts). */
  processorPolicy: ProcessorPolicy;
}

/**
 * Validates the flags and environment of `run`. Log level: LOG_LEVEL when set, else
 * `--zap-log-level`, else debug with `--zap-devel`, else info. Log format: LOG_FORMAT when set,
 * else `--zap-encoder`, else text with `--zap-devel`, else json. The environment wins, as LOG_LEVEL
 * does over `--zap-log-level` in the Go operator.
 * @throws ConfigError naming the flag or variable and what it expects
 */
export function resolveRunSettings(cli: CommandLine, env: Record<string, string | undefined>): RunSettings {
  const v = cli.values;
  const leaderElect = parseBool("leader-elect", v["leader-elect"] ?? "true");
  let namespaces: string[] | undefined;
  try {
    namespaces = v.namespace ? parseNamespaceList(v.namespace, "--namespace") : undefined;
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const concurrency = parsePositiveInt(
    "max-concurrent-reconciles",
    v["max-concurrent-reconciles"] ?? String(DEFAULT_CONCURRENCY),
  );
  const cacheSyncTimeoutMs = parseDuration("cache-sync-timeout", v["cache-sync-timeout"] ?? "2m");
  const defaults = defaultBindAddresses(env);
  const metricsBindAddress = checkBindAddress(
    "metrics-bind-address",
    v["metrics-bind-address"] ?? defaults.metrics,
  );
  const healthBindAddress = checkBindAddress(
    "health-probe-bind-address",
    v["health-probe-bind-address"] ?? defaults.health,
  );
  const m = splitBindAddress(metricsBindAddress), h = splitBindAddress(healthBindAddress);
  if (m && h && m.port !== 0 && m.port === h.port && metricsBindAddress !== healthBindAddress) {
    throw new ConfigError(
      `--health-probe-bind-address=${healthBindAddress}: port ${h.port} is also --metrics-bind-address=` +
        `${metricsBindAddress}; give both the same address to serve /metrics, /healthz and /readyz on one port`,
    );
  }

  const devel = v["zap-devel"] === undefined ? false : parseBool("zap-devel", v["zap-devel"]);
  const zapLevel = v["zap-log-level"] === undefined ? undefined : zapLogLevel(v["zap-log-level"]);
  const zapFormat = v["zap-encoder"] === undefined ? undefined : zapEncoder(v["zap-encoder"]);
  const stack = v["zap-stacktrace-level"];
  if (stack !== undefined && !Object.hasOwn(ZAP_LEVELS, stack.trim().toLowerCase())) {
    throw new ConfigError(`--zap-stacktrace-level=${stack}: expected debug, info, warn, error or panic`);
  }
  const time = v["zap-time-encoding"];
  if (time !== undefined && !ZAP_TIME_ENCODINGS.includes(time.trim().toLowerCase())) {
    throw new ConfigError(`--zap-time-encoding=${time}: expected ${ZAP_TIME_ENCODINGS.join(", ")}`);
  }
  const envLevel = env.LOG_LEVEL?.trim() ? env.LOG_LEVEL : undefined;
  const logLevel = envLevel ?? zapLevel ?? (devel ? "debug" : "info");
  const logFormat = env.LOG_FORMAT?.trim()
    ? toLogFormat(env.LOG_FORMAT)
    : zapFormat ?? (devel ? "text" : "json");

  const logFile = v["log-file"] || undefined;
  const processorPolicy = parseProcessorPolicy(env.PROCESSOR_POLICY);
  const ignoredFlags = IGNORED_GO_FLAGS.filter((f) => v[f] !== undefined).map((f) =>
    `${cli.spelled[f]}=${v[f]}`
  );
  return {
    leaderElect,
    namespaces,
    concurrency,
    cacheSyncTimeoutMs,
    metricsBindAddress,
    healthBindAddress,
    logLevel,
    logFormat,
    logFile,
    ignoredFlags,
    processorPolicy,
  };
}

/**
 * Resolves the host names of the bind addresses (IP addresses and empty hosts need nothing), so an
 * unknown host is refused before anything listens rather than by the second listener.
 * @throws ConfigError `--metrics-bind-address=nohost:9090: host "nohost" does not resolve`
 */
export async function checkBindHosts(settings: RunSettings): Promise<void> {
  for (
    const [flag, value] of [
      ["metrics-bind-address", settings.metricsBindAddress],
      ["health-probe-bind-address", settings.healthBindAddress],
    ]
  ) {
    const host = splitBindAddress(value)?.host;
    if (!host || isIP(host)) continue;
    try {
      await (await import("node:dns/promises")).lookup(host);
    } catch {
      throw new ConfigError(`--${flag}=${value}: host "${host}" does not resolve`);
    }
  }
}
