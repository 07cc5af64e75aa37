/**
 * A failed connection, said in words: fetch reports "fetch failed" (Node, Deno) or a terse code
 * (Bun), and the real cause sits somewhere in the error's `cause` chain, worded differently by
 * each runtime. This turns it into what to check: DNS, a refused port, a certificate problem, a
 * server that does not speak TLS.
 */

interface Link {
  code?: string;
  message: string;
}

function chainOf(err: unknown): Link[] {
  const out: Link[] = [];
  for (
    let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined, i = 0;
    e && i < 8;
    i++
  ) {
    out.push({ code: typeof e.code === "string" ? e.code : undefined, message: String(e.message ?? e) });
    e = e.cause as typeof e;
  }
  return out;
}

/** Certificate problems by Node/Bun error code and by the phrases of Deno's TLS stack (rustls). */
const CERTIFICATE_PROBLEMS: [RegExp, string][] = [
  [/CERT_HAS_EXPIRED|\bExpired\b|certificate has expired/i, "has expired"],
  [/CERT_NOT_YET_VALID|NotValidYet/i, "is not valid yet"],
  [/ALTNAME|NotValidForName|Hostname\/IP does not match/i, "does not cover this host name"],
  [/SELF_SIGNED|self[- ]signed|CaUsedAsEndEntity/i, "is self-signed and not trusted"],
  [
    /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|UnknownIssuer|unable to verify/i,
    "is not signed by a trusted certificate authority",
  ],
  [/BadSignature|invalid peer certificate|certificate/i, "was refused"],
];

/**
 * The cause of a connection failure to `server`, e.g. `connection refused 127.0.0.1:6443`,
 * `DNS lookup of api.example failed`, `TLS: the server's certificate has expired`.
 */
export function describeNetworkError(err: unknown, server: string): string {
  const links = chainOf(err);
  const text = links.map((l) => `${l.code ?? ""} ${l.message}`).join(" | ");
  let url: URL | undefined;
  try {
    url = new URL(server);
  } catch { /* not a URL: name the server as given */ }
  const host = url?.hostname ?? server;
  const hostPort = url ? `${url.hostname}:${url.port || (url.protocol === "http:" ? 80 : 443)}` : server;
  if (/ECONNREFUSED|Connection refused|ConnectionRefused/i.test(text)) {
    return `connection refused ${hostPort}`;
  }
  if (/ENOTFOUND|EAI_AGAIN|dns error|failed to lookup|getaddrinfo|Name or service not known/i.test(text)) {
    return `DNS lookup of ${host} failed`;
  }
  if (/EPROTO|InvalidContentType|wrong version number|speak TLS|packet length too long/i.test(text)) {
    return `${hostPort} does not speak TLS (is the server URL http:// rather than https://?)`;
  }
  const code = links.find((l) => l.code && /CERT|SIGNED|SIGNATURE|ALTNAME/.test(l.code))?.code;
  for (const [pattern, problem] of CERTIFICATE_PROBLEMS) {
    if (pattern.test(code ?? "") || pattern.test(text)) {
      return `TLS: the certificate of ${hostPort} ${problem} (check certificate-authority in the kubeconfig)`;
    }
  }
  if (/ECONNRESET|connection reset/i.test(text)) return `connection reset by ${hostPort}`;
  if (/ETIMEDOUT|timed out/i.test(text)) return `connection to ${hostPort} timed out`;
  if (/EHOSTUNREACH|ENETUNREACH|unreachable/i.test(text)) return `no route to ${hostPort}`;
  // Unknown: the most specific message the runtime gave (the last in the chain).
  return links.at(-1)?.message ?? String(err);
}
