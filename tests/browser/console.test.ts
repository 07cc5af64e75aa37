/**
 * The web console in a real browser (headless Chromium), against a local control plane with the
 * DataFlow CRD and a running operator: the list and its filters, a live update when a DataFlow's
 * phase changes (no reload), keyboard navigation, a DataFlow's page with its Event timeline,
 * tenant-written hostile text rendered as text, a create the API server refuses with its message
 * under the field it names, create/edit/delete, the operator page, and the security headers.
 * Screenshots go to DATAFLOW_BROWSER_SCREENSHOTS (or a temp directory; paths are printed); with
 * DATAFLOW_CONSOLE_SCREENSHOT=docs/console.png the list's screenshot is also written there (the
 * README's picture).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import type { Browser } from "puppeteer-core";
import type { KubeClient, KubeObject } from "../../lib/kube/client.ts";
import { builtin } from "../../lib/kube/resources.ts";
import { DataFlowType } from "../../lib/dataflow/names.ts";
import { CONTENT_SECURITY_POLICY } from "../../lib/console/http.ts";
import { clientFor, freshNamespace, testControlPlane } from "../controlplane/env.ts";
import { type ControlPlane, freePort } from "../controlplane/harness.ts";
import { installCrd } from "../e2e/install.ts";
import { OperatorProcess } from "../e2e/operator-process.ts";
import { launch, openTab, screenshot, screenshotDir, type Tab } from "./browser.ts";
import { ConsoleProcess } from "./console-process.ts";
import { HOSTILE, kafkaFlow, setStatus, warningEvent } from "./fixtures.ts";
import { waitFor } from "../tools/wait.ts";

const T = { timeout: 300_000 };
let cp: ControlPlane;
let admin: KubeClient;
let browser: Browser;
let consoleProc: ConsoleProcess;
let operator: OperatorProcess;
let base: string;
let nsA: string, nsB: string, nsOp: string;
let shots: string;

/** Evaluates an expression in the page (DOM code as text: this file is type-checked without the DOM). */
function js<R = unknown>(tab: Tab, expression: string): Promise<R> {
  return tab.page.evaluate(expression) as Promise<R>;
}

/** The names in the list's rows, in order. */
function rowNames(tab: Tab): Promise<string[]> {
  return js(
    tab,
    `[...document.querySelectorAll("#rows tr[data-sort] a.row-link")].map((a) => a.textContent)`,
  );
}

/** Waits until `fn` (run in the page) is truthy; a readable failure names what was awaited. */
async function until(tab: Tab, what: string, fn: string, timeout = 20_000): Promise<void> {
  try {
    await tab.page.waitForFunction(fn, { timeout, polling: 100 });
  } catch (err) {
    throw new Error(`${what}: not seen within ${timeout} ms (${(err as Error).message})`);
  }
}

describe("the web console in headless Chromium", T, () => {
  before(async () => {
    cp = await testControlPlane();
    await installCrd(cp);
    admin = clientFor(cp);
    shots = screenshotDir();
    nsA = await freshNamespace(cp, "shop");
    nsB = await freshNamespace(cp, "analytics");
    nsOp = await freshNamespace(cp, "ops");
    await cp.kubectl(["create", "namespace", "dataflow-system"]);

    // DataFlows nobody reconciles (the operator watches nsOp only): their status is set by hand.
    for (
      const [ns, name, phase, message] of [
        [nsA, "orders-to-postgresql", "Running", "Processor pod is running"],
        [nsA, "clickstream-cleanup", "Pending", "Processor pod is starting"],
        [
          nsB,
          "audit-log-archive",
          "Error",
          "Failed to resolve secrets: secret audit-kafka-credentials not found",
        ],
      ]
    ) {
      const df = await admin.create(DataFlowType, kafkaFlow(name, ns));
      await setStatus(admin, ns, name, phase, message, df.metadata?.generation);
    }
    const orders = await admin.get(DataFlowType, "orders-to-postgresql", { namespace: nsA });
    await admin.create(
      builtin.Event,
      warningEvent(orders, "BackOff", "Processor restarted after a crash", 7),
    );
    // Tenant-written text in every place a tenant can write it.
    const hostile = await admin.create<KubeObject>(DataFlowType, {
      ...kafkaFlow("hostile", nsA, HOSTILE),
      metadata: { name: "hostile", namespace: nsA, annotations: { "example.com/note": HOSTILE } },
    });
    await setStatus(admin, nsA, "hostile", "Error", HOSTILE, hostile.metadata?.generation);
    await admin.create(builtin.Event, warningEvent(hostile, "Hostile", HOSTILE, 2));

    // The operator, for the operator page: it reconciles nsOp only, and holds its Lease.
    operator = await OperatorProcess.start({
      kubeconfig: cp.info.admin.kubeconfigPath,
      args: [`--namespace=${nsOp}`, "--leader-election-namespace=dataflow-system"],
      env: { POD_NAME: "operator-browser-test", OPERATOR_IMAGE: "dataflow-operator:0.1.0" },
      name: "operator",
    });
    await operator.waitHealthy("/readyz", 90_000);
    await admin.create(DataFlowType, kafkaFlow("reconciled", nsOp));

    const port = await freePort();
    consoleProc = await ConsoleProcess.start(
      [
        `--listen=127.0.0.1:${port}`,
        `--kubeconfig=${cp.info.admin.kubeconfigPath}`,
        "--enable-writes",
        `--operator-metrics-url=${operator.metricsUrl}`,
        "--leader-election-namespace=dataflow-system",
      ],
    );
    base = consoleProc.url;
    browser = await launch();
  }, T);

  after(async () => {
    await browser?.close();
    const code = await consoleProc?.stop();
    if (consoleProc) assert.equal(code, 0, `the console did not exit 0 on Ctrl-C:\n${consoleProc.output}`);
    await operator?.stop("SIGTERM", 15_000);
    await cp?.stop();
  }, T);

  it(
    "the list shows every DataFlow with its phase, source → sink, age and message, and filters",
    T,
    async () => {
      const tab = await openTab(browser);
      await tab.page.goto(`${base}/`, { waitUntil: "load" });
      await until(tab, "the live stream", `document.getElementById("live").dataset.state === "live"`);
      const rows = await js<string[][]>(
        tab,
        `[...document.querySelectorAll("#rows tr[data-sort]")].map((tr) =>
        [...tr.querySelectorAll("td")].map((td) => td.textContent.trim()))`,
      );
      const byName = Object.fromEntries(rows.map((r) => [r[1], r]));
      assert.deepEqual(byName["orders-to-postgresql"].slice(0, 4), [
        nsA,
        "orders-to-postgresql",
        "Running",
        "kafka → kafka",
      ]);
      assert.equal(byName["orders-to-postgresql"][5], "Processor pod is running");
      assert.match(byName["orders-to-postgresql"][4], /^\d+[smhd]$/, "age");
      assert.equal(byName["audit-log-archive"][2], "Error");
      assert.equal(byName["clickstream-cleanup"][2], "Pending");
      assert.ok(byName.reconciled, "the operator's DataFlow is listed too");
      await screenshot(tab.page, shots, "01-list", process.env.DATAFLOW_CONSOLE_SCREENSHOT || undefined);

      // Filters: by namespace (the select submits on change), then by phase.
      await Promise.all([tab.page.waitForNavigation(), tab.page.select("select[name=namespace]", nsB)]);
      assert.deepEqual(await rowNames(tab), ["audit-log-archive"]);
      await tab.page.goto(`${base}/?namespace=${nsA}&phase=Pending`, { waitUntil: "load" });
      assert.deepEqual(await rowNames(tab), ["clickstream-cleanup"]);
      assert.deepEqual(tab.problems, [], "the browser reported problems");
      await tab.page.close();
    },
  );

  it("a phase change through the status subresource shows in the open page without a reload", T, async () => {
    const tab = await openTab(browser);
    await tab.page.goto(`${base}/?namespace=${nsA}`, { waitUntil: "load" });
    await until(tab, "the live stream", `document.getElementById("live").dataset.state === "live"`);
    await js(tab, "window.__sameDocument = true");
    const id = `df:${nsA}/clickstream-cleanup`;
    await setStatus(admin, nsA, "clickstream-cleanup", "Error", "Processor pod crashed: exit code 3");
    await until(
      tab,
      "the row's new phase",
      `document.getElementById(${
        JSON.stringify(id)
      })?.querySelector(".phase-cell")?.textContent.trim() === "Error"`,
    );
    assert.equal(
      await tab.page.$eval(`[id="${id}"] td.message`, (td) => td.textContent),
      "Processor pod crashed: exit code 3",
    );
    assert.equal(await js(tab, "window.__sameDocument"), true, "the page was reloaded");
    await screenshot(tab.page, shots, "02-live-update");
    // A DataFlow created meanwhile appears, one deleted goes.
    await admin.create(DataFlowType, kafkaFlow("late-arrival", nsA));
    await until(tab, "a new row", `!!document.getElementById(${JSON.stringify(`df:${nsA}/late-arrival`)})`);
    await admin.delete(DataFlowType, "late-arrival", { namespace: nsA });
    await until(
      tab,
      "the row to go",
      `!document.getElementById(${JSON.stringify(`df:${nsA}/late-arrival`)})`,
    );
    await setStatus(admin, nsA, "clickstream-cleanup", "Pending", "Processor pod is starting");
    await tab.page.close();
  });

  it("keyboard: Tab reaches the rows, arrow keys move between them, Enter opens one", T, async () => {
    const tab = await openTab(browser);
    await tab.page.goto(`${base}/?namespace=${nsA}`, { waitUntil: "load" });
    let focused = "";
    for (let i = 0; i < 25 && !focused.startsWith("row:"); i++) {
      await tab.page.keyboard.press("Tab");
      focused = await js<string>(
        tab,
        `document.activeElement?.classList.contains("row-link") ? "row:" + document.activeElement.textContent
          : document.activeElement?.tagName ?? ""`,
      );
    }
    assert.equal(focused, "row:clickstream-cleanup", "Tab did not reach the first row");
    await tab.page.keyboard.press("ArrowDown");
    assert.equal(await js(tab, "document.activeElement.textContent"), "hostile");
    await tab.page.keyboard.press("ArrowDown");
    await tab.page.keyboard.press("ArrowUp");
    await tab.page.keyboard.press("End");
    assert.equal(await js(tab, "document.activeElement.textContent"), "orders-to-postgresql");
    await screenshot(tab.page, shots, "03-keyboard-focus");
    await Promise.all([tab.page.waitForNavigation(), tab.page.keyboard.press("Enter")]);
    assert.equal(new URL(tab.page.url()).pathname, `/dataflows/${nsA}/orders-to-postgresql`);
    await tab.page.close();
  });

  it("a DataFlow's page: spec, status, and the Event timeline with count and last seen", T, async () => {
    const tab = await openTab(browser);
    await tab.page.goto(`${base}/dataflows/${nsA}/orders-to-postgresql`, { waitUntil: "load" });
    assert.match(await tab.page.$eval("#spec", (e) => e.textContent ?? ""), /topic: orders/);
    assert.equal(await tab.page.$eval("#status .phase", (e) => e.textContent), "Running");
    const events = await js<{ cells: string[]; last?: string }[]>(
      tab,
      `[...document.querySelectorAll("#timeline tr.event")].map((tr) => ({
        cells: [...tr.querySelectorAll("td")].map((td) => td.textContent.trim()),
        last: tr.querySelector("td.last-seen time")?.getAttribute("datetime"),
      }))`,
    );
    const backoff = events.find((e) => e.cells[1] === "BackOff");
    assert.ok(backoff, `no BackOff event in ${JSON.stringify(events)}`);
    assert.deepEqual(backoff.cells.slice(0, 4), [
      "Warning",
      "BackOff",
      "Processor restarted after a crash",
      "7",
    ]);
    assert.ok(backoff.last && Date.parse(backoff.last) > Date.now() - 10 * 60_000, "last seen");
    await until(tab, "the live stream", `document.getElementById("live").dataset.state === "live"`);
    await setStatus(admin, nsA, "orders-to-postgresql", "Error", "Sink unreachable");
    await until(tab, "the live status", `document.querySelector("#status .phase")?.textContent === "Error"`);
    await screenshot(tab.page, shots, "04-dataflow");
    await setStatus(admin, nsA, "orders-to-postgresql", "Running", "Processor pod is running");
    assert.deepEqual(tab.problems, []);
    await tab.page.close();
  });

  it("hostile text (status message, annotation, spec string, Event message) renders as text", T, async () => {
    const check = async (path: string, name: string) => {
      const tab = await openTab(browser);
      await tab.page.goto(`${base}${path}`, { waitUntil: "load" });
      await until(tab, "the live stream", `document.getElementById("live").dataset.state === "live"`);
      const found = await js<{ pwned?: number; images: number; scripts: string[]; occurrences: number }>(
        tab,
        `({
          pwned: window.__pwned,
          images: document.querySelectorAll("img").length,
          scripts: [...document.scripts].map((s) => s.getAttribute("src")),
          occurrences: document.body.innerText.split(${JSON.stringify(HOSTILE)}).length - 1,
        })`,
      );
      assert.equal(found.pwned, undefined, `${path}: injected script ran`);
      assert.equal(found.images, 0, `${path}: an injected element exists`);
      assert.deepEqual(found.scripts, ["/static/console.js"]);
      assert.ok(found.occurrences >= 1, `${path}: the hostile text is not shown as text`);
      await screenshot(tab.page, shots, name);
      assert.deepEqual(tab.problems, [], `${path}: the browser reported problems`);
      await tab.page.close();
      return found.occurrences;
    };
    await check(`/?namespace=${nsA}`, "05-hostile-list");
    // Status message, condition-free status, annotation and topic in the spec, and the Event.
    assert.ok(await check(`/dataflows/${nsA}/hostile`, "06-hostile-dataflow") >= 4);
  });

  it("a create the API server refuses shows its message next to the field it names", T, async () => {
    const tab = await openTab(browser);
    await tab.page.goto(`${base}/new?namespace=${nsA}`, { waitUntil: "load" });
    const yaml = (await js<string>(tab, `document.getElementById("yaml").value`))
      .replace("name: my-dataflow", "name: refused-flow").replace("type: kafka", "type: bogus");
    await js(tab, `document.getElementById("yaml").value = ${JSON.stringify(yaml)}`);
    await Promise.all([tab.page.waitForNavigation(), tab.page.click("button[type=submit].primary")]);
    const error = await tab.page.$eval(`li.field-error[data-field="spec.source.type"]`, (li) => ({
      text: li.textContent,
      line: li.previousElementSibling?.textContent,
    }));
    assert.match(
      error.text ?? "",
      /Unsupported value: "bogus": supported values: "kafka", "postgresql", "trino"/,
    );
    assert.match(
      error.line ?? "",
      /^\d+\s+type: bogus$/,
      "the message is not under the line of spec.source.type",
    );
    assert.match(await tab.page.$eval("#errors", (e) => e.textContent ?? ""), /spec\.source\.type/);
    assert.match(await js<string>(tab, `document.getElementById("yaml").value`), /type: bogus/);
    await screenshot(tab.page, shots, "07-create-refused");
    await assert.rejects(admin.get(DataFlowType, "refused-flow", { namespace: nsA }), /404|not found/i);
    await tab.page.close();
  });

  it("create, edit and delete through the forms, as the kubeconfig's user", T, async () => {
    const tab = await openTab(browser);
    await tab.page.goto(`${base}/new?namespace=${nsB}`, { waitUntil: "load" });
    await Promise.all([tab.page.waitForNavigation(), tab.page.click("button[type=submit].primary")]);
    assert.equal(new URL(tab.page.url()).pathname, `/dataflows/${nsB}/my-dataflow`);
    assert.match(await tab.page.$eval("main", (m) => m.textContent ?? ""), /Created\./);
    const created = await admin.get<{ metadata: { managedFields?: { manager?: string }[] } }>(
      DataFlowType,
      "my-dataflow",
      { namespace: nsB },
    );
    assert.ok(created.metadata.managedFields?.some((f) => f.manager === "dataflow-console"));

    await tab.page.goto(`${base}/dataflows/${nsB}/my-dataflow/edit`, { waitUntil: "load" });
    const yaml = (await js<string>(tab, `document.getElementById("yaml").value`)).replace(
      "topic: output",
      "topic: output-v2",
    );
    await js(tab, `document.getElementById("yaml").value = ${JSON.stringify(yaml)}`);
    await Promise.all([tab.page.waitForNavigation(), tab.page.click("button[type=submit].primary")]);
    assert.match(await tab.page.$eval("#spec", (e) => e.textContent ?? ""), /topic: output-v2/);

    await tab.page.goto(`${base}/dataflows/${nsB}/my-dataflow/delete`, { waitUntil: "load" });
    await Promise.all([tab.page.waitForNavigation(), tab.page.click("button.danger")]);
    assert.match(await tab.page.$eval("main", (m) => m.textContent ?? ""), /Deleted .*my-dataflow/);
    await assert.rejects(admin.get(DataFlowType, "my-dataflow", { namespace: nsB }), /404|not found/i);
    await tab.page.close();
  });

  it("the operator page shows the leader, the work queue, reconciles and the Event recorder", T, async () => {
    // The operator has reconciled its DataFlow (Events written) before the page is read.
    await waitFor(
      "an Event written by the operator",
      async () => /^events_written_total\{[^}]*\} [1-9]/m.test(await operator.metrics()),
      { timeoutMs: 60_000, intervalMs: 300 },
    );
    const tab = await openTab(browser);
    await tab.page.goto(`${base}/operator`, { waitUntil: "load" });
    const leader = await tab.page.$eval("#leader", (e) => e.textContent ?? "");
    assert.match(leader, /^operator-browser-test/);
    assert.match(await tab.page.$eval("#queue-depth .value", (e) => e.textContent ?? ""), /^\d+$/);
    assert.match(await tab.page.$eval("#reconciles-total .value", (e) => e.textContent ?? ""), /^[1-9]\d*$/);
    assert.match(
      await tab.page.$eval("#events-written", (e) => e.textContent ?? ""),
      /^[1-9]\d* \(create \d+/,
    );
    await screenshot(tab.page, shots, "08-operator");
    assert.deepEqual(tab.problems, []);
    await tab.page.close();
  });

  it("every answer carries the security headers, and pages load nothing from elsewhere", T, async () => {
    for (
      const path of ["/", `/dataflows/${nsA}/hostile`, "/operator", "/new", "/static/console.js", "/nope"]
    ) {
      const res = await fetch(`${base}${path}`);
      await res.body?.cancel();
      assert.equal(res.headers.get("content-security-policy"), CONTENT_SECURITY_POLICY, path);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff", path);
      assert.equal(res.headers.get("x-frame-options"), "DENY", path);
    }
    const tab = await openTab(browser);
    await tab.page.goto(`${base}/dataflows/${nsA}/orders-to-postgresql`, { waitUntil: "networkidle2" });
    const foreign = tab.requests.filter((u) => !u.startsWith(base));
    assert.deepEqual(foreign, [], "requests to other origins");
    await tab.page.close();
  });

  it("a POST without the session's CSRF token, or from another origin, is refused", T, async () => {
    const page = await fetch(`${base}/new`);
    const cookie = (page.headers.get("set-cookie") ?? "").split(";")[0];
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1];
    assert.ok(cookie && csrf);
    const body = (token: string) =>
      new URLSearchParams({ _csrf: token, yaml: "apiVersion: dataflow.dataflow.io/v1\n" }).toString();
    const post = (headers: Record<string, string>, token: string) =>
      fetch(`${base}/new`, {
        method: "POST",
        redirect: "manual",
        headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers },
        body: body(token),
      });
    assert.equal((await post({ Cookie: cookie }, "wrong")).status, 403);
    assert.equal((await post({}, csrf)).status, 403, "no session cookie");
    assert.equal((await post({ Cookie: cookie, Origin: "http://evil.example" }, csrf)).status, 403);
    // With both, the form reaches the API server (which refuses this incomplete DataFlow).
    assert.equal((await post({ Cookie: cookie, Origin: base }, csrf)).status, 422);
  });
});
