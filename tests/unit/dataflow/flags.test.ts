/** The command line's parsing and validation (lib/dataflow/flags.ts): Go's spellings, zap flags, bind addresses. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  checkBindAddress,
  defaultBindAddresses,
  parseCommandLine,
  parseDuration,
  resolveRunSettings,
  UsageError,
  zapLogLevel,
} from "../../../lib/dataflow/flags.ts";
import { ConfigError } from "../../../lib/kube/errors.ts";

const settings = (argv: string[], env: Record<string, string | undefined> = {}) =>
  resolveRunSettings(parseCommandLine(argv), env);

describe("parseCommandLine", () => {
  it("takes Go's spellings: one or two dashes, =value or a separate value, bare booleans, last wins", () => {
    const cli = parseCommandLine([
      "-metrics-bind-address=:1",
      "--health-probe-bind-address",
      ":2",
      "run",
      "-zap-devel",
      "--leader-elect",
      "--no-leader-elect",
      "--context=a",
      "--context=b",
      "--",
      "--not-a-flag",
    ]);
    assert.deepEqual(cli.values, {
      "metrics-bind-address": ":1",
      "health-probe-bind-address": ":2",
      "zap-devel": "true",
      "leader-elect": "false",
      context: "b",
    });
    assert.deepEqual(cli.positionals, ["run", "--not-a-flag"]);
    assert.equal(cli.spelled["zap-devel"], "-zap-devel");
    assert.deepEqual(parseCommandLine(["-h"]).values, { help: "true" });
  });

  it("names an unknown flag or a missing value as typed", () => {
    assert.throws(() => parseCommandLine(["--foo"]), new UsageError("unknown flag --foo"));
    assert.throws(() => parseCommandLine(["-foo=1"]), new UsageError("unknown flag -foo"));
    assert.throws(
      () => parseCommandLine(["--kubeconfig"]),
      new UsageError("flag --kubeconfig needs a value"),
    );
    assert.throws(
      () => parseCommandLine(["--context", "--namespace=a"]),
      new UsageError("flag --context needs a value"),
    );
  });
});

describe("bind addresses", () => {
  it("accepts [host]:port, :port, [v6]:port and 0; refuses anything else with one message", () => {
    for (
      const ok of ["0", ":9090", "127.0.0.1:9090", "[::1]:9090", "localhost:0", "my-host.example:8080", ""]
    ) {
      assert.equal(checkBindAddress("metrics-bind-address", ok), ok);
    }
    for (const bad of ["bogus", "9090", ":99999", "1.2.3.4", "[nope]:1", "a b:1", "host:port", ":-1"]) {
      assert.throws(
        () => checkBindAddress("metrics-bind-address", bad),
        new ConfigError(`--metrics-bind-address=${bad}: expected [host]:port or 0`),
      );
    }
  });

  it("defaults to loopback outside a cluster and to every interface in a pod", () => {
    assert.deepEqual(defaultBindAddresses({}), { metrics: "127.0.0.1:9090", health: "127.0.0.1:9091" });
    const pod = { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" };
    assert.deepEqual(defaultBindAddresses(pod), { metrics: ":9090", health: ":9091" });
    assert.equal(settings([]).healthBindAddress, "127.0.0.1:9091");
    assert.equal(settings([], pod).metricsBindAddress, ":9090");
    assert.equal(settings(["--metrics-bind-address=:7"], {}).metricsBindAddress, ":7");
  });

  it("refuses one port for two different addresses, allows the same address twice", () => {
    assert.throws(
      () => settings(["--metrics-bind-address=:9091", "--health-probe-bind-address=127.0.0.1:9091"]),
      /--health-probe-bind-address=127.0.0.1:9091: port 9091 is also --metrics-bind-address=:9091/,
    );
    const same = settings(["--metrics-bind-address=:9091", "--health-probe-bind-address=:9091"]);
    assert.equal(same.metricsBindAddress, same.healthBindAddress);
    settings(["--metrics-bind-address=127.0.0.1:0", "--health-probe-bind-address=[::1]:0"]);
  });
});

describe("the Go operator's zap flags", () => {
  it("--zap-log-level: zap's names, or a verbosity above 0", () => {
    assert.equal(zapLogLevel("debug"), "debug");
    assert.equal(zapLogLevel("INFO"), "info");
    assert.equal(zapLogLevel("warn"), "warning");
    assert.equal(zapLogLevel("panic"), "fatal");
    assert.equal(zapLogLevel("1"), "debug");
    assert.equal(zapLogLevel("5"), "trace");
    for (const bad of ["0", "-1", "verbose", ""]) {
      assert.throws(() => zapLogLevel(bad), ConfigError);
    }
  });

  it("maps onto level and format; LOG_LEVEL and LOG_FORMAT win; explicit zap flags win over --zap-devel", () => {
    const pick = (argv: string[], env: Record<string, string> = {}) => {
      const s = settings(argv, env);
      return [s.logLevel, s.logFormat];
    };
    assert.deepEqual(pick([]), ["info", "json"]);
    assert.deepEqual(pick(["--zap-devel"]), ["debug", "text"]);
    assert.deepEqual(pick(["--zap-devel=false"]), ["info", "json"]);
    assert.deepEqual(pick(["--zap-devel", "--zap-log-level=error", "--zap-encoder=json"]), ["error", "json"]);
    assert.deepEqual(pick(["--zap-encoder=console"]), ["info", "text"]);
    assert.deepEqual(pick(["--zap-log-level=debug"], { LOG_LEVEL: "warning" }), ["warning", "json"]);
    assert.deepEqual(pick(["--zap-encoder=console"], { LOG_FORMAT: "JSON" }), ["info", "json"]);
    assert.deepEqual(pick(["--zap-devel"], { LOG_LEVEL: " ", LOG_FORMAT: "" }), ["debug", "text"]);
  });

  it("validates every value, also of the flags it ignores, and lists those once", () => {
    assert.throws(
      () => settings([], { LOG_FORMAT: "xml" }),
      new ConfigError("LOG_FORMAT=xml: expected json or text"),
    );
    assert.throws(
      () => settings(["--zap-encoder=xml"], { LOG_FORMAT: "json" }),
      new ConfigError("--zap-encoder=xml: expected json or console"),
    );
    assert.throws(() => settings(["--zap-stacktrace-level=loud"]), /--zap-stacktrace-level=loud: expected/);
    assert.throws(() => settings(["--zap-time-encoding=hourly"]), /--zap-time-encoding=hourly: expected/);
    assert.throws(
      () => settings(["--zap-devel=maybe"]),
      new ConfigError("--zap-devel=maybe: expected true or false"),
    );
    const s = settings([
      "-zap-time-encoding",
      "iso8601",
      "--zap-stacktrace-level=panic",
      "--zap-log-level=info",
    ]);
    assert.deepEqual(s.ignoredFlags, ["--zap-stacktrace-level=panic", "-zap-time-encoding=iso8601"]);
  });

  it("--log-file is taken; empty means standard error", () => {
    assert.equal(settings(["--log-file=/tmp/x.log"]).logFile, "/tmp/x.log");
    assert.equal(settings(["--log-file="]).logFile, undefined);
  });
});

it("--cache-sync-timeout takes a Go duration (default 2m) and refuses anything else", () => {
  assert.equal(parseDuration("cache-sync-timeout", "2m"), 120_000);
  assert.equal(parseDuration("cache-sync-timeout", "1m30s"), 90_000);
  assert.equal(parseDuration("cache-sync-timeout", "500ms"), 500);
  for (const bad of ["", "90", "2 m", "-1s", "0s", "1x"]) {
    assert.throws(
      () => parseDuration("cache-sync-timeout", bad),
      /--cache-sync-timeout=.*: expected a duration such as 90s, 2m or 1m30s/,
      bad,
    );
  }
});
