/**
 * Exec credential plugins (client.authentication.k8s.io v1 and v1beta1): run the command, read an
 * ExecCredential from its stdout, cache it until its expiry, and run again after a 401.
 */
import process from "node:process";
import { ConfigError } from "./errors.ts";
import type { Credentials, CredentialSource } from "./credentials.ts";
import { logger } from "../observe/log.ts";

/** The `exec` block of a kubeconfig user. */
export interface ExecConfig {
  /** The ExecCredential version the plugin speaks (`client.authentication.k8s.io/v1` or `v1beta1`). */
  apiVersion: string;
  /** The program: a path with a slash is relative to its kubeconfig file, a bare name is looked up on PATH. */
  command: string;
  /** Its arguments. */
  args?: string[];
  /** Variables added to the plugin's environment. */
  env?: { name: string; value: string }[] | null;
  /** Pass the cluster's details in KUBERNETES_EXEC_INFO. */
  provideClusterInfo?: boolean;
  /** Whether the plugin needs a terminal; `Always` is refused, since an operator has none. */
  interactiveMode?: "Never" | "IfAvailable" | "Always";
  /** Told to the user when the command is not installed. */
  installHint?: string;
}

/** Cluster details passed to plugins that ask for them (provideClusterInfo). */
export interface ExecClusterInfo {
  /** The API server's URL. */
  server: string;
  /** Its CA certificates, base64-encoded PEM. */
  "certificate-authority-data"?: string;
  /** The name its certificate is checked against. */
  "tls-server-name"?: string;
  /** Whether its certificate is not checked. */
  "insecure-skip-tls-verify"?: boolean;
}

const SUPPORTED = ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"];
const log = logger("kube", "exec");

/**
 * A credential source backed by an exec plugin.
 * @param user the kubeconfig user name, for messages
 * @param options.now clock for expiry (tests)
 * @param options.timeoutMs how long the plugin may run (default 60 s)
 */
export function execCredentials(
  exec: ExecConfig,
  user: string,
  cluster: ExecClusterInfo,
  options: { now?: () => number; timeoutMs?: number } = {},
): CredentialSource {
  if (!SUPPORTED.includes(exec.apiVersion)) {
    throw new ConfigError(
      `user "${user}": exec plugin apiVersion "${exec.apiVersion}" is not supported; use one of ${
        SUPPORTED.join(", ")
      }`,
    );
  }
  if (!exec.command) throw new ConfigError(`user "${user}": exec plugin has no command`);
  if (exec.interactiveMode === "Always") {
    throw new ConfigError(
      `user "${user}": exec plugin "${exec.command}" needs an interactive terminal (interactiveMode: Always), which an operator never has`,
    );
  }
  const now = options.now ?? Date.now;
  let cached: { creds: Credentials; expiresAt: number } | undefined;
  let running: Promise<Credentials> | undefined;

  const run = async (): Promise<Credentials> => {
    const info = {
      apiVersion: exec.apiVersion,
      kind: "ExecCredential",
      spec: { interactive: false, ...(exec.provideClusterInfo ? { cluster } : {}) },
    };
    const env = { ...process.env, KUBERNETES_EXEC_INFO: JSON.stringify(info) } as Record<string, string>;
    for (const e of exec.env ?? []) env[e.name] = e.value;
    // Loaded on first use: most configurations run no credential plugin.
    const { execFile } = await import("node:child_process");
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(exec.command, exec.args ?? [], {
        env,
        timeout: options.timeoutMs ?? 60_000,
        maxBuffer: 4 << 20,
      }, (err, out, errOut) => {
        if (!err) return resolve(String(out));
        const e = err as NodeJS.ErrnoException & { code?: string | number; killed?: boolean };
        if (e.code === "ENOENT") {
          return reject(
            new ConfigError(
              `user "${user}": exec plugin "${exec.command}" was not found` +
                (exec.installHint ? `. ${exec.installHint}` : ""),
            ),
          );
        }
        const detail = String(errOut ?? "").trim().split("\n").slice(-3).join(" ").slice(0, 400);
        reject(
          new ConfigError(
            `user "${user}": exec plugin "${exec.command}" failed${
              e.killed ? " (timed out)" : ` (exit ${e.code})`
            }` +
              (detail ? `: ${detail}` : ""),
          ),
        );
      });
    });
    let parsed: {
      apiVersion?: string;
      kind?: string;
      status?: {
        token?: string;
        clientCertificateData?: string;
        clientKeyData?: string;
        expirationTimestamp?: string;
      };
    };
    try {
      parsed = JSON.parse(stdout);
    } catch {
      // Never quote stdout: it may hold a credential.
      throw new ConfigError(
        `user "${user}": exec plugin "${exec.command}" printed output that is not JSON (expected an ExecCredential)`,
      );
    }
    if (parsed?.kind !== "ExecCredential") {
      throw new ConfigError(
        `user "${user}": exec plugin "${exec.command}" printed JSON that is not an ExecCredential`,
      );
    }
    if (parsed.apiVersion !== exec.apiVersion) {
      throw new ConfigError(
        `user "${user}": exec plugin "${exec.command}" answered with apiVersion "${parsed.apiVersion}", expected "${exec.apiVersion}"`,
      );
    }
    const s = parsed.status ?? {};
    const hasCert = Boolean(s.clientCertificateData) || Boolean(s.clientKeyData);
    if (hasCert && !(s.clientCertificateData && s.clientKeyData)) {
      throw new ConfigError(
        `user "${user}": exec plugin "${exec.command}" returned a client certificate without its key, or a key without its certificate`,
      );
    }
    if (!s.token && !hasCert) {
      throw new ConfigError(
        `user "${user}": exec plugin "${exec.command}" returned neither a token nor a client certificate`,
      );
    }
    let expiresAt = Infinity;
    if (s.expirationTimestamp) {
      expiresAt = Date.parse(s.expirationTimestamp);
      if (Number.isNaN(expiresAt)) {
        throw new ConfigError(
          `user "${user}": exec plugin "${exec.command}" returned an unparsable expirationTimestamp`,
        );
      }
    }
    const creds: Credentials = s.token ? { token: s.token } : {};
    if (hasCert) Object.assign(creds, { cert: s.clientCertificateData, key: s.clientKeyData });
    cached = { creds, expiresAt };
    log.debug("exec plugin {command} returned credentials for user {user}, valid until {expires}", {
      command: exec.command,
      user,
      expires: s.expirationTimestamp ?? "not set",
    });
    return creds;
  };

  return {
    get() {
      if (cached && now() < cached.expiresAt) return Promise.resolve(cached.creds);
      // One plugin run at a time; concurrent requests share its result.
      running ??= run().finally(() => running = undefined);
      return running;
    },
    invalidate() {
      cached = undefined;
    },
  };
}
