/** The User-Agent names the application that passes one, else the toolkit: never an application by default. */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "../../../lib/kube/config.ts";
import { defaultUserAgent, HttpTransport, TOOLKIT_USER_AGENT } from "../../../lib/kube/transport.ts";

describe("User-Agent", () => {
  const seen: string[] = [];
  let server: Server;
  let url = "";
  let dir = "";

  before(async () => {
    server = createServer((req, res) => {
      seen.push(req.headers["user-agent"] ?? "");
      res.writeHead(200, { "content-type": "application/json" }).end('{"gitVersion":"v1.30.0"}');
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    dir = await mkdtemp(join(tmpdir(), "ua-"));
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it("defaults to the toolkit's name, the OS and the runtime", async () => {
    assert.match(
      defaultUserAgent(),
      new RegExp(`^${TOOLKIT_USER_AGENT} \\([a-z0-9]+/[a-z0-9_]+\\) (deno|bun|node)/\\S+$`),
    );
    assert.doesNotMatch(defaultUserAgent(), /dataflow/);
    const t = new HttpTransport({ server: url, tls: {} });
    await (await t.request({ method: "GET", path: "/version" })).text();
    t.close();
    assert.equal(seen.at(-1), defaultUserAgent());
  });

  it("an application passes its own through connect, and every request carries it", async () => {
    const kubeconfig = join(dir, "config");
    await writeFile(
      kubeconfig,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "c", cluster: { server: url } }],
        users: [{ name: "u", user: { token: "t" } }],
        contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
        "current-context": "x",
      }),
    );
    const userAgent = defaultUserAgent("my-operator/1.2.3");
    const conn = await connect({ kubeconfig, env: {}, userAgent, client: { retry: { maxRetries: 0 } } });
    try {
      await conn.client.getRaw("/version");
    } finally {
      conn.close();
    }
    assert.equal(seen.at(-1), userAgent);
    assert.match(userAgent, /^my-operator\/1\.2\.3 \(/);
  });
});
