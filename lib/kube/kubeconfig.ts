/**
 * kubeconfig loading with client-go's rules: an explicit file, else the KUBECONFIG list merged
 * with first-wins per cluster/user/context name, else ~/.kube/config; relative paths resolve
 * against the file that names them; `*-data` wins over the file fields.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { delimiter, dirname, isAbsolute, join, resolve } from "node:path";
import process from "node:process";
import { ConfigError } from "./errors.ts";
import { type CredentialSource, staticCredentials, tokenFileCredentials } from "./credentials.ts";
import { type ExecConfig, execCredentials } from "./exec.ts";
import { checkCertificates, checkPrivateKey, decodeData } from "./pem.ts";
import type { ConnectionSettings } from "./transport.ts";

/** Where a client's settings came from, and the namespace the context selects. */
export interface ResolvedConfig extends ConnectionSettings {
  /** The user's credentials (token, token file, client certificate, basic auth or exec plugin). */
  credentials: CredentialSource;
  /** The context's namespace, or the pod's; "default" when neither names one. */
  namespace: string;
  /** e.g. `kubeconfig /home/me/.kube/config, context kind-dev` or `in-cluster`. */
  source: string;
  /** The kubeconfig context used (none in-cluster). */
  contextName?: string;
}

interface Named<T> {
  value: T;
  /** Directory of the file that defined it, for relative paths. */
  dir: string;
  file: string;
}

interface ClusterEntry {
  server?: string;
  "certificate-authority"?: string;
  "certificate-authority-data"?: string;
  "insecure-skip-tls-verify"?: boolean;
  "tls-server-name"?: string;
  "proxy-url"?: string;
}

interface UserEntry {
  "client-certificate"?: string;
  "client-certificate-data"?: string;
  "client-key"?: string;
  "client-key-data"?: string;
  token?: string;
  tokenFile?: string;
  username?: string;
  password?: string;
  exec?: ExecConfig;
  "auth-provider"?: { name?: string };
}

interface ContextEntry {
  cluster?: string;
  user?: string;
  namespace?: string;
}

/** The merged view of one or more kubeconfig files. */
export interface MergedKubeconfig {
  files: string[];
  currentContext?: string;
  clusters: Map<string, Named<ClusterEntry>>;
  users: Map<string, Named<UserEntry>>;
  contexts: Map<string, Named<ContextEntry>>;
}

/** The kubeconfig files to read: explicit path, else KUBECONFIG, else ~/.kube/config. */
export function kubeconfigPaths(
  explicit?: string,
  env: Record<string, string | undefined> = process.env,
): string[] {
  if (explicit) return [resolve(explicit)];
  if (env.KUBECONFIG) return env.KUBECONFIG.split(delimiter).filter(Boolean).map((p) => resolve(p));
  return [join(env.HOME ?? homedir(), ".kube", "config")];
}

/** Reads and merges kubeconfig files; a missing explicit file is an error, missing list entries are skipped. */
export async function loadKubeconfig(paths: string[], explicit = false): Promise<MergedKubeconfig> {
  const merged: MergedKubeconfig = { files: [], clusters: new Map(), users: new Map(), contexts: new Map() };
  for (const file of paths) {
    if (!existsSync(file)) {
      if (explicit) throw new ConfigError(`kubeconfig ${file} does not exist`);
      continue;
    }
    let doc: {
      "current-context"?: string;
      clusters?: { name: string; cluster: ClusterEntry }[];
      users?: { name: string; user: UserEntry }[];
      contexts?: { name: string; context: ContextEntry }[];
    };
    // The YAML parser is loaded here, not at start: in a pod the operator reads no kubeconfig.
    const { parse: parseYaml } = await import("yaml");
    try {
      doc = parseYaml(await readFile(file, "utf8")) ?? {};
    } catch (err) {
      throw new ConfigError(`kubeconfig ${file} is not valid YAML: ${(err as Error).message.split("\n")[0]}`);
    }
    if (typeof doc !== "object" || Array.isArray(doc)) {
      throw new ConfigError(`kubeconfig ${file} is not a mapping`);
    }
    merged.files.push(file);
    const dir = dirname(file);
    merged.currentContext ??= doc["current-context"] || undefined;
    const add = <T>(map: Map<string, Named<T>>, list: unknown, field: string) => {
      if (list == null) return;
      if (!Array.isArray(list)) throw new ConfigError(`kubeconfig ${file}: "${field}s" must be a list`);
      for (const item of list as Record<string, unknown>[]) {
        const name = item?.name;
        if (typeof name !== "string" || !name) {
          throw new ConfigError(`kubeconfig ${file}: a ${field} has no name`);
        }
        // First file wins, whole: entries are never merged field by field.
        if (!map.has(name)) map.set(name, { value: (item[field] ?? {}) as T, dir, file });
      }
    };
    add(merged.clusters, doc.clusters, "cluster");
    add(merged.users, doc.users, "user");
    add(merged.contexts, doc.contexts, "context");
  }
  if (merged.files.length === 0) {
    throw new ConfigError(`no kubeconfig found (looked at ${paths.join(", ")})`);
  }
  return merged;
}

const pathIn = (dir: string, p: string) => isAbsolute(p) ? p : join(dir, p);

async function readPem(dir: string, p: string, where: string): Promise<string> {
  const full = pathIn(dir, p);
  try {
    return await readFile(full, "utf8");
  } catch (err) {
    throw new ConfigError(
      `${where}: cannot read ${full}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

/** Resolves one context of a merged kubeconfig into connection settings. */
export async function resolveContext(
  config: MergedKubeconfig,
  contextName?: string,
): Promise<ResolvedConfig> {
  const files = config.files.join(", ");
  const name = contextName ?? config.currentContext;
  if (!name) throw new ConfigError(`kubeconfig ${files} sets no current-context; pass --context`);
  const ctx = config.contexts.get(name);
  if (!ctx) {
    const known = [...config.contexts.keys()];
    throw new ConfigError(
      `context "${name}" not found in kubeconfig ${files}` +
        (known.length ? `; available: ${known.join(", ")}` : ""),
    );
  }
  const clusterName = ctx.value.cluster ?? "";
  const cluster = config.clusters.get(clusterName);
  if (!cluster) {
    throw new ConfigError(`context "${name}" names cluster "${clusterName}", which ${files} does not define`);
  }
  const userName = ctx.value.user ?? "";
  const user = userName
    ? config.users.get(userName)
    : { value: {} as UserEntry, dir: ctx.dir, file: ctx.file };
  if (!user) {
    throw new ConfigError(`context "${name}" names user "${userName}", which ${files} does not define`);
  }

  const c = cluster.value;
  const cWhere = `cluster "${clusterName}" in ${cluster.file}`;
  if (!c.server) throw new ConfigError(`${cWhere} has no server`);
  let url: URL;
  try {
    url = new URL(c.server);
  } catch {
    throw new ConfigError(`${cWhere}: server "${c.server}" is not a URL`);
  }
  if (c["proxy-url"]) {
    throw new ConfigError(`${cWhere}: proxy-url is not supported yet; unset it or use kubectl proxy`);
  }
  let ca: string | undefined;
  if (c["certificate-authority-data"]) {
    ca = decodeData(c["certificate-authority-data"], `${cWhere} certificate-authority-data`);
  } else if (c["certificate-authority"]) {
    ca = await readPem(cluster.dir, c["certificate-authority"], `${cWhere} certificate-authority`);
  }
  if (ca) checkCertificates(ca, `${cWhere} certificate-authority`);
  if (ca && c["insecure-skip-tls-verify"]) {
    throw new ConfigError(
      `${cWhere}: specifying a root certificates file with the insecure flag is not allowed`,
    );
  }

  const u = user.value;
  const uWhere = `user "${userName}" in ${user.file}`;
  if (u["auth-provider"]) {
    throw new ConfigError(
      `${uWhere}: auth-provider "${
        u["auth-provider"].name
      }" is not supported; configure an exec credential plugin instead`,
    );
  }
  let cert: string | undefined, key: string | undefined;
  if (u["client-certificate-data"]) {
    cert = decodeData(u["client-certificate-data"], `${uWhere} client-certificate-data`);
  } else if (u["client-certificate"]) {
    cert = await readPem(user.dir, u["client-certificate"], `${uWhere} client-certificate`);
  }
  if (u["client-key-data"]) key = decodeData(u["client-key-data"], `${uWhere} client-key-data`);
  else if (u["client-key"]) key = await readPem(user.dir, u["client-key"], `${uWhere} client-key`);
  if (cert) checkCertificates(cert, `${uWhere} client certificate`);
  if (key) checkPrivateKey(key, `${uWhere} client key`);
  if (Boolean(cert) !== Boolean(key)) {
    throw new ConfigError(`${uWhere}: a client certificate needs a client key, and a key a certificate`);
  }

  let credentials: CredentialSource;
  if (u.exec) {
    const exec = { ...u.exec };
    // A command with a path separator is relative to its kubeconfig; a bare name is looked up on PATH.
    if (exec.command?.includes("/")) exec.command = pathIn(user.dir, exec.command);
    const inner = execCredentials(exec, userName, {
      server: c.server,
      ...(c["certificate-authority-data"]
        ? { "certificate-authority-data": c["certificate-authority-data"] }
        : {}),
      ...(c["tls-server-name"] ? { "tls-server-name": c["tls-server-name"] } : {}),
      ...(c["insecure-skip-tls-verify"] ? { "insecure-skip-tls-verify": true } : {}),
    });
    // Static client certificate from the kubeconfig, when the plugin returns only a token.
    credentials = {
      get: async () => ({ ...(cert ? { cert, key } : {}), ...await inner.get() }),
      invalidate: () => inner.invalidate(),
    };
  } else if (u.token) {
    credentials = staticCredentials({ token: u.token, cert, key });
  } else if (u.tokenFile) {
    credentials = tokenFileCredentials(pathIn(user.dir, u.tokenFile), { base: { cert, key } });
    await credentials.get(); // fail now, naming the file, rather than on the first request
  } else if (u.username !== undefined) {
    credentials = staticCredentials({ username: u.username, password: u.password, cert, key });
  } else {
    credentials = staticCredentials({ cert, key });
  }

  return {
    server: url.toString().replace(/\/+$/, ""),
    tls: { ca, serverName: c["tls-server-name"], insecure: c["insecure-skip-tls-verify"] === true },
    credentials,
    namespace: ctx.value.namespace || "default",
    source: `kubeconfig ${files}, context ${name}`,
    contextName: name,
  };
}
