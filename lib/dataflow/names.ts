/**
 * The API's group, version and kind, and the names, labels and annotations shared by the builders,
 * the reconciler and the controller wiring.
 * The labels are the Go operator's; unlike the Go operator, they are also put on the owned
 * objects' own metadata, so the operator can watch exactly its objects by label.
 */
import { type ResourceType, resourceType } from "../kube/mod.ts";

/** API group, version and kind. */
export const GROUP = "dataflow.dataflow.io";
/** The served and stored version. */
export const VERSION = "v1";
/** `dataflow.dataflow.io/v1`. */
export const API_VERSION = `${GROUP}/${VERSION}`;
/** The kind. */
export const KIND = "DataFlow";

/** The label naming the DataFlow an object belongs to. */
export const NAME_LABEL = "dataflow.dataflow.io/name";
/** The label marking objects created by the operator. */
export const OWNED_LABEL = "dataflow.dataflow.io/owned";
/** The label selector of every object the operator owns (its owned-object informers use it). */
export const OWNED_SELECTOR = `${OWNED_LABEL}=true`;
/** The pod-template annotation hashing spec.json and the referenced Secrets' versions. */
export const CONFIG_HASH_ANNOTATION = "dataflow.dataflow.io/config-hash";
/** The finalizer guarding cleanup (the later upstream operator's name). */
export const FINALIZER = "dataflow.dataflow.io/finalizer";
/** Source component of the operator's Events. */
export const EVENT_COMPONENT = "dataflow-controller";
/** Field manager of the operator's writes. */
export const FIELD_MANAGER = "dataflow-operator";

/** The processor's ConfigMap: `dataflow-<name>-spec`. */
export function configMapName(dataflow: string): string {
  return `dataflow-${dataflow}-spec`;
}

/** The processor's Deployment: `dataflow-<name>`. */
export function deploymentName(dataflow: string): string {
  return `dataflow-${dataflow}`;
}

/** The Go operator's labels of the processor pods (and, here, of the owned objects). */
export function processorLabels(dataflow: string): Record<string, string> {
  return { app: "dataflow-processor", [NAME_LABEL]: dataflow, [OWNED_LABEL]: "true" };
}

/** The minimal DataFlow identity the builders need. */
export interface DataFlowIdentity {
  metadata: { name: string; namespace?: string; uid?: string };
}

/** The controller owner reference pointing at a DataFlow. */
export function controllerRef(df: DataFlowIdentity) {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: df.metadata.name,
    uid: df.metadata.uid ?? "",
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Whether `obj` has a controller owner reference to the DataFlow with this uid. */
export function isControlledBy(
  obj: { metadata?: { ownerReferences?: { kind?: string; uid?: string; controller?: boolean }[] } },
  uid: string | undefined,
): boolean {
  return !!uid &&
    (obj.metadata?.ownerReferences ?? []).some((r) => r.controller && r.kind === KIND && r.uid === uid);
}

/** The DataFlow resource type for the client and informers. */
export const DataFlowType: ResourceType = resourceType(API_VERSION, KIND, "dataflows", true);
