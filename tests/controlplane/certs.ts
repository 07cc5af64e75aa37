/**
 * Certificates for the test control plane, made with the openssl CLI (Node's crypto cannot
 * issue certificates). One CA signs the serving certificate and every client identity.
 */
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);

/** Runs openssl, failing with its stderr. */
export async function openssl(args: string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await exec("openssl", args, { cwd });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string; code?: string };
    if (e.code === "ENOENT") {
      throw new Error("the test control plane needs the openssl CLI (apt-get install openssl)");
    }
    throw new Error(`openssl ${args[0]} failed: ${e.stderr || e.message}`);
  }
}

/** Encodings of a private key as kubeconfigs carry them. */
export type KeyFormat = "pkcs8" | "pkcs1" | "sec1";

/** Generates a key in the given encoding; returns its path. */
export async function generateKey(dir: string, name: string, format: KeyFormat): Promise<string> {
  const path = join(dir, `${name}.key`);
  if (format === "sec1") {
    await openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", path], dir);
  } else if (format === "pkcs1") {
    await openssl(["genrsa", "-traditional", "-out", path, "2048"], dir);
  } else {
    await openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path], dir);
  }
  return path;
}

/** The CA of a control plane. */
export interface CertAuthority {
  dir: string;
  certPath: string;
  keyPath: string;
}

/** Creates a self-signed CA in `dir`. */
export async function createCa(dir: string): Promise<CertAuthority> {
  const keyPath = await generateKey(dir, "ca", "pkcs8");
  const certPath = join(dir, "ca.crt");
  await openssl(
    [
      "req",
      "-x509",
      "-new",
      "-key",
      keyPath,
      "-sha256",
      "-days",
      "2",
      "-subj",
      "/CN=dataflow-test-ca",
      "-out",
      certPath,
    ],
    dir,
  );
  return { dir, certPath, keyPath };
}

/** Signs a certificate for `subject` with the CA; `serving` adds loopback SANs. */
export async function issueCert(
  ca: CertAuthority,
  name: string,
  subject: { cn: string; orgs?: string[] },
  options: { serving?: boolean; keyFormat?: KeyFormat } = {},
): Promise<{ certPath: string; keyPath: string; cert: string; key: string }> {
  const keyPath = await generateKey(ca.dir, name, options.keyFormat ?? "pkcs8");
  const csr = join(ca.dir, `${name}.csr`);
  const ext = join(ca.dir, `${name}.ext`);
  const certPath = join(ca.dir, `${name}.crt`);
  const subj = `/CN=${subject.cn}` + (subject.orgs ?? []).map((o) => `/O=${o}`).join("");
  await openssl(["req", "-new", "-key", keyPath, "-subj", subj, "-out", csr], ca.dir);
  await writeFile(
    ext,
    options.serving
      ? "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n" +
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
      : "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
  );
  await openssl(
    [
      "x509",
      "-req",
      "-in",
      csr,
      "-CA",
      ca.certPath,
      "-CAkey",
      ca.keyPath,
      "-CAcreateserial",
      "-days",
      "2",
      "-sha256",
    ]
      .concat(["-extfile", ext, "-out", certPath]),
    ca.dir,
  );
  return { certPath, keyPath, cert: await readFile(certPath, "utf8"), key: await readFile(keyPath, "utf8") };
}
