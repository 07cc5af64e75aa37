/**
 * Test tools shared by the runtime tests and the fault suite:
 * - {@link FakeApiServer}: an in-memory API server behind the Transport seam (watch history,
 *   410 after compaction, expiring continue tokens, stalls, scripted responses);
 * - {@link FaultTransport}: wraps a real Transport and injects 429s, 500s, cut or stalled watch
 *   streams and partitions, counting requests by verb and path;
 * - {@link TcpProxy}: a TCP proxy in front of the real API server that can cut, refuse or
 *   blackhole a separate process's connections.
 */
export * from "./fake-apiserver.ts";
export * from "./fault-transport.ts";
export * from "./tcp-proxy.ts";
