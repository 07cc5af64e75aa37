/**
 * The Kubernetes API client: configuration (kubeconfig, in-cluster, exec plugins), the transport
 * seam and its middleware, REST verbs, watch and typed errors.
 * @module
 */
export { KubeClient } from "./client.ts";
export type {
  DeleteOptions,
  KubeClientOptions,
  KubeObject,
  ListOptions,
  ObjectLike,
  ObjectList,
  PatchOptions,
  PatchType,
  ReadOptions,
  WatchOptions,
  WriteOptions,
} from "./types.ts";
export type { RetryPolicy } from "./retry.ts";
export { connect, type Connection, type ConnectOptions, loadConfig } from "./config.ts";
export type { ResolvedConfig } from "./kubeconfig.ts";
export { IN_CLUSTER_SOURCE, inClusterConfig, isInCluster } from "./incluster.ts";
export {
  type Credentials,
  type CredentialSource,
  staticCredentials,
  tokenFileCredentials,
} from "./credentials.ts";
export { type ExecClusterInfo, type ExecConfig, execCredentials } from "./exec.ts";
export {
  AlreadyExistsError,
  ApiError,
  BadRequestError,
  ConfigError,
  ConflictError,
  ConnectionError,
  errorFromResponse,
  errorFromStatus,
  ForbiddenError,
  GoneError,
  InvalidError,
  isAlreadyExists,
  isConflict,
  isForbidden,
  isGone,
  isNotFound,
  isRetryable,
  NamespaceRequiredError,
  NotFoundError,
  ResponseBodyError,
  ServerError,
  TooManyRequestsError,
  UnauthorizedError,
} from "./errors.ts";
export {
  builtin,
  type BuiltinKind,
  discoverResource,
  resourcePath,
  type ResourceType,
  resourceType,
} from "./resources.ts";
export {
  type ConnectionSettings,
  defaultUserAgent,
  HttpTransport,
  type KubeRequest,
  type Middleware,
  stackTransport,
  type Transport,
  wrapTransport,
} from "./transport.ts";
export { type RefuseWrite, WriteGate, writeGate, WriteRefusedError } from "./write-gate.ts";
export type { TlsSettings } from "./tls.ts";
export { type WatchEvent, WatchIdleError } from "./watch.ts";
// The API's own object metadata and Status, as the client's types use them (kubernetes-types).
export type {
  FieldsV1,
  ListMeta,
  ManagedFieldsEntry,
  ObjectMeta,
  OwnerReference,
  Status,
  StatusCause,
  StatusDetails,
  Time,
} from "kubernetes-types/meta/v1";
