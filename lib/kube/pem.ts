/**
 * Checks of PEM material from kubeconfigs and service-account directories, so a broken certificate
 * or key fails at load time with a message naming where it came from — never with its contents.
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { ConfigError } from "./errors.ts";

/** Decodes a kubeconfig `*-data` field (base64 of PEM). */
export function decodeData(value: string, where: string): string {
  let text: string;
  try {
    const bin = atob(value.replace(/\s+/g, ""));
    text = new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
  } catch {
    throw new ConfigError(`${where} is not valid base64`);
  }
  return text;
}

/** Validates one or more PEM certificates (a CA bundle or a client chain). */
export function checkCertificates(pem: string, where: string): string {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (!blocks) {
    throw new ConfigError(`${where} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)`);
  }
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch (err) {
      throw new ConfigError(`${where} holds a malformed certificate: ${(err as Error).message}`);
    }
  }
  return pem;
}

/** Validates a private key in PKCS#8, PKCS#1 (RSA) or SEC1 (EC) encoding. */
export function checkPrivateKey(pem: string, where: string): string {
  if (!/-----BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY-----/.test(pem)) {
    throw new ConfigError(
      `${where} holds no PEM private key (expected PKCS#8 "PRIVATE KEY", PKCS#1 "RSA PRIVATE KEY" or SEC1 "EC PRIVATE KEY")`,
    );
  }
  if (pem.includes("ENCRYPTED PRIVATE KEY")) {
    throw new ConfigError(`${where}: encrypted private keys are not supported`);
  }
  try {
    createPrivateKey(pem);
  } catch {
    // The parser's message could quote key material; keep it out of the error.
    throw new ConfigError(`${where} holds a malformed private key`);
  }
  return pem;
}
