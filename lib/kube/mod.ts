/** The Kubernetes API client: configuration, transport, REST verbs, watch and typed errors. */
export * from "./client.ts";
export * from "./credentials.ts";
export * from "./errors.ts";
export * from "./resources.ts";
export * from "./tls.ts";
export * from "./transport.ts";
export * from "./watch.ts";
export * from "./config.ts";
export * from "./exec.ts";
export * from "./incluster.ts";
export * from "./kubeconfig.ts";
export * from "./pem.ts";
