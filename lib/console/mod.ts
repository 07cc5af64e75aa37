/**
 * The DataFlow web console (`dataflow-operator console`): server-rendered pages with one small
 * embedded script, live over Server-Sent Events from the toolkit's informers, read-only unless
 * writes are enabled, and then sent with the user's own identity. See README.md, "Console".
 */
export { ConsoleApp, type DataFlowCache } from "./app.ts";
export { CONSOLE_USAGE, type ConsoleSettings, parseConsoleArgs } from "./flags.ts";
export { escapeHtml, Html, html } from "./html.ts";
export { CONTENT_SECURITY_POLICY, SECURITY_HEADERS } from "./http.ts";
export { chooseWriteMode, clientForToken, whoAmI, type WriteIdentity } from "./identity.ts";
export { LiveHub } from "./live.ts";
export { type ConsoleIo, consoleMain, type RunningConsole } from "./main.ts";
export { OperatorStatus } from "./operator-status.ts";
export { parsePrometheusText } from "./prometheus.ts";
