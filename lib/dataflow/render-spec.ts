/**
 * `dataflow-operator render-spec`: the processor pod's init container. It turns the ConfigMap's
 * spec.json (SecretRefs only) and the Secret files the kubelet mounted into this container alone
 * into the spec.json the Go operator's `/processor` reads: every SecretRef of a block in use
 * resolved inline, exactly as the Go operator wrote its ConfigMap (same fields, a ref wins over
 * an inline value, the ref itself left in place), with TLS certificates, keys and CAs written as
 * files whose paths go into `certFile`/`keyFile`/`caFile`. The output goes into an in-memory
 * emptyDir, so nothing resolved is ever stored in etcd.
 *
 * Which plain field a ref fills comes from the schema (secret-fields.ts `secretRefFields`): `<x>SecretRef`
 * → `<x>`; `brokersSecretRef` → `brokers`, split on commas, parts trimmed, empty parts dropped;
 * TLS `certSecretRef`/`keySecretRef`/`caSecretRef` → a file (a value that is a one-line absolute
 * path is used as the path, as the Go operator used a path that existed in its image; an empty CA
 * is an error, as there). Unlike the Go operator, the error sink is resolved too, and
 * `avroSchemaSecretRef` fills `avroSchema` (the Go processor reads `avroSchema` first).
 *
 * It never prints a secret value: errors name the field, the Secret and the key. Files are written
 * with mode 0400 through a temporary file and a rename, spec.json last, so a spec.json that exists
 * is complete and so is every file it names.
 */
import { Buffer } from "node:buffer";
import { randomBytes } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import process from "node:process";
import { forEachSecretRef, secretFilePath } from "./secrets.ts";
import { refFieldPattern, type SecretRefField, secretRefFields } from "./secret-fields.ts";

/** The help text of `render-spec`. */
export const RENDER_SPEC_USAGE =
  `Usage: dataflow-operator render-spec --spec <file> --secrets-dir <dir> --out <dir>

Renders the processor's spec.json (the init container of every processor pod runs this):
  --spec <file>          the ConfigMap's spec.json: the DataFlow spec with SecretRefs {name, key}
  --secrets-dir <dir>    where the referenced Secrets are mounted: <dir>/<secret>/<key>
  --out <dir>            writes <dir>/spec.json with every SecretRef resolved inline, as the Go
                         operator's ConfigMap held it, and TLS cert/key/CA values as files in
                         <dir>/tls/ named in certFile/keyFile/caFile (mode 0400, written atomically)
  -h, --help             this help

Exit codes: 0 written; 1 a file missing or unreadable (one line naming the field, the Secret and
the key, never a value); 2 a bad command line.
`;

/** A failure to render, in one line that names no secret value. */
export class RenderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RenderError";
  }
}

/** One file the rendered spec names (a TLS certificate, key or CA). */
export interface RenderedFile {
  path: string;
  data: Uint8Array;
}

/** The outcome of {@link renderSpec}. */
export interface RenderedSpec {
  /** The processor's spec.json text. */
  json: string;
  /** The TLS files spec.json names, to be written before it. */
  files: RenderedFile[];
  /** How many SecretRefs were resolved. */
  resolved: number;
}

/** Reads a SecretRef's value (the Secret file's bytes); throws a {@link RenderError} naming it. */
export type SecretReader = (ref: { name: string; key: string }, field: string) => Uint8Array;

/** `spec.source.kafka.tls.certSecretRef` → `source.kafka.tls.cert` (a TLS file's name). */
function fileStem(field: string): string {
  return field.replace(/^spec\./, "").replace(/\[(\d+)\]/g, ".$1").replace(/SecretRef$/, "");
}

const ABSOLUTE_PATH = /^\/[^\n\r\0]*$/;

/**
 * Resolves the SecretRefs of a ConfigMap spec (pure: reading is `read`'s, writing the caller's).
 * @param specText the ConfigMap's spec.json
 * @param outDir where the TLS files will live (as the processor sees it: the same path)
 * @throws RenderError naming the field (and the Secret and key), never a value
 */
export function renderSpec(specText: string, read: SecretReader, outDir: string): RenderedSpec {
  let spec: Record<string, unknown>;
  try {
    spec = JSON.parse(specText);
  } catch {
    throw new RenderError("the spec is not valid JSON");
  }
  if (!spec || typeof spec !== "object" || Array.isArray(spec)) {
    throw new RenderError("the spec is not a JSON object");
  }
  const fields = new Map<string, SecretRefField>(secretRefFields().map((f) => [f.path, f]));
  const files: RenderedFile[] = [];
  let resolved = 0;
  const decoder = new TextDecoder(); // invalid UTF-8 becomes U+FFFD, as Go's JSON encoder writes it
  forEachSecretRef(spec, (ref, field, parent, key) => {
    const info = fields.get(refFieldPattern(field));
    if (!info) throw new RenderError(`${field}: not a SecretRef field of the DataFlow API`);
    if (typeof ref.name !== "string" || typeof ref.key !== "string") {
      throw new RenderError(`${field}: a SecretRef needs a name and a key`);
    }
    const bytes = read(ref, field);
    // The reference stays next to the value, as in the Go operator's ConfigMap, with its API fields only.
    parent[key] = { name: ref.name, key: ref.key, ...(ref.namespace ? { namespace: ref.namespace } : {}) };
    resolved++;
    if (info.target === "value") {
      parent[info.twin] = decoder.decode(bytes);
    } else if (info.target === "list") {
      parent[info.twin] = decoder.decode(bytes).split(",").map((s) => s.trim()).filter((s) => s !== "");
    } else {
      const text = decoder.decode(bytes);
      if (bytes.length === 0 && info.twin === "caFile") {
        throw new RenderError(`${field}: key ${ref.key} of Secret ${ref.name} is empty (a CA is required)`);
      }
      if (!text.trim().startsWith("-----BEGIN") && ABSOLUTE_PATH.test(text)) {
        parent[info.twin] = text; // a path into the processor's image, as the Go operator allowed
      } else {
        const path = join(outDir, "tls", `${fileStem(field)}.pem`);
        files.push({ path, data: bytes });
        parent[info.twin] = path;
      }
    }
  });
  return { json: JSON.stringify(spec), files, resolved };
}

/** Words for a file-system error code (the message itself may quote a path, never content). */
function why(err: unknown): string {
  const code = (err as { code?: string }).code;
  const words: Record<string, string> = {
    ENOENT: "no such file",
    EACCES: "permission denied",
    EPERM: "operation not permitted",
    EISDIR: "is a directory",
    ENOTDIR: "a path component is not a directory",
    EROFS: "read-only file system",
    ENOSPC: "no space left",
  };
  return (code && words[code]) ?? code ?? (err as Error).message ?? String(err);
}

/** A Secret name or key usable as one path component (never `..` or containing `/`). */
function safeComponent(s: string): boolean {
  return s !== "" && s !== "." && s !== ".." && !s.includes("/") && !s.includes("\0");
}

/** The reader of `<secretsDir>/<secret>/<key>` files, as the kubelet projects them. */
export function fileSecretReader(secretsDir: string): SecretReader {
  return (ref, field) => {
    if (!safeComponent(ref.name) || !safeComponent(ref.key)) {
      throw new RenderError(
        `${field}: Secret ${JSON.stringify(ref.name)} key ${JSON.stringify(ref.key)} is not a file name`,
      );
    }
    const path = secretFilePath(ref.name, ref.key, secretsDir);
    try {
      return readFileSync(path);
    } catch (err) {
      throw new RenderError(
        `${field}: cannot read key ${ref.key} of Secret ${ref.name} (${path}): ${why(err)}`,
      );
    }
  };
}

/** Writes `data` to `path` with `mode` through a temporary file in the same directory and a rename. */
export function writeFileAtomic(path: string, data: Uint8Array, mode = 0o400): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, "wx", mode);
    for (let off = 0; off < data.length;) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    throw new RenderError(`cannot write ${path}: ${why(err)}`);
  }
}

/** The parsed flags of `render-spec`. */
interface RenderFlags {
  spec?: string;
  "secrets-dir"?: string;
  out?: string;
  help?: boolean;
}

/** Parses `--flag value`, `--flag=value` (one or two dashes); throws a plain Error on a bad line. */
function parseFlags(argv: string[]): RenderFlags {
  const out: RenderFlags = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith("-") || arg === "-") throw new Error(`unexpected argument ${arg}`);
    const eq = arg.indexOf("=");
    const name = (eq < 0 ? arg : arg.slice(0, eq)).replace(/^--?/, "");
    if (name === "h" || name === "help") {
      out.help = true;
      continue;
    }
    if (name !== "spec" && name !== "secrets-dir" && name !== "out") {
      throw new Error(`unknown flag ${eq < 0 ? arg : arg.slice(0, eq)}`);
    }
    let value = eq < 0 ? undefined : arg.slice(eq + 1);
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined || value.startsWith("-")) throw new Error(`flag --${name} needs a value`);
    }
    if (value === "") throw new Error(`flag --${name} needs a value`);
    out[name] = value;
  }
  return out;
}

/** Where `render-spec` writes (the CLI's io). */
export interface RenderIo {
  stdout: (text: string) => void | Promise<void>;
  stderr: (text: string) => void | Promise<void>;
}

/**
 * Runs `render-spec` with its arguments (after the command); resolves with the exit code: 0
 * written, 1 a file missing or unreadable (or the output not writable), 2 a bad command line.
 */
export async function renderSpecMain(argv: string[], io: RenderIo): Promise<number> {
  let flags: RenderFlags;
  try {
    flags = parseFlags(argv);
  } catch (err) {
    await io.stderr(`error: render-spec: ${(err as Error).message}; see render-spec --help\n`);
    return 2;
  }
  if (flags.help) {
    await io.stdout(RENDER_SPEC_USAGE);
    return 0;
  }
  const missing = (["spec", "secrets-dir", "out"] as const).filter((f) => !flags[f]);
  if (missing.length) {
    await io.stderr(
      `error: render-spec: missing ${missing.map((f) => `--${f}`).join(", ")}; see render-spec --help\n`,
    );
    return 2;
  }
  const specPath = flags.spec!, outDir = flags.out!;
  try {
    let text: string;
    try {
      text = readFileSync(specPath, "utf8");
    } catch (err) {
      throw new RenderError(`cannot read the spec ${specPath}: ${why(err)}`);
    }
    const rendered = renderSpec(text, fileSecretReader(flags["secrets-dir"]!), outDir);
    if (rendered.files.length) {
      try {
        mkdirSync(join(outDir, "tls"), { recursive: true, mode: 0o700 });
      } catch (err) {
        throw new RenderError(`cannot create ${join(outDir, "tls")}: ${why(err)}`);
      }
    }
    for (const f of rendered.files) writeFileAtomic(f.path, f.data);
    const out = join(outDir, "spec.json");
    writeFileAtomic(out, Buffer.from(rendered.json, "utf8"));
    await io.stdout(
      `render-spec: wrote ${out}: ${rendered.resolved} secret reference(s) resolved, ` +
        `${rendered.files.length} TLS file(s)\n`,
    );
    return 0;
  } catch (err) {
    // A RenderError names the field, Secret and key; anything else is a bug, still one line.
    await io.stderr(`error: render-spec: ${(err as Error).message ?? String(err)}\n`);
    return 1;
  }
}
