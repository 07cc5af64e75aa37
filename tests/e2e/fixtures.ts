/**
 * DataFlow and Secret bodies for the end-to-end suite, and a registry of the secret values it
 * used (so the suite can prove none of them ever leaves its Secret).
 */
import { randomBytes } from "node:crypto";

/** A SecretRef as the DataFlow API spells it. */
export interface SecretRef {
  name: string;
  key: string;
  namespace?: string;
}

/** A DataFlow body (loosely typed: the suite edits it to build invalid variants). */
export interface DataFlowBody {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    generation?: number;
    finalizers?: string[];
    annotations?: Record<string, string>;
  };
  spec: {
    source: { type: string; kafka: { brokers?: string[]; topic: string; consumerGroup?: string } };
    sink: { type: string; postgresql: Record<string, unknown> };
  };
  status?: {
    phase?: string;
    message?: string;
    observedGeneration?: number;
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
  };
}

/** A Kafka -> PostgreSQL DataFlow; `sink` gives the PostgreSQL connection (value or SecretRef). */
export function dataflow(
  name: string,
  sink: { connectionString?: string; connectionStringSecretRef?: SecretRef },
): DataFlowBody {
  return {
    apiVersion: "dataflow.dataflow.io/v1",
    kind: "DataFlow",
    metadata: { name },
    spec: {
      source: {
        type: "kafka",
        kafka: { brokers: ["kafka-0.kafka:9092"], topic: "orders", consumerGroup: name },
      },
      sink: { type: "postgresql", postgresql: { ...sink, table: name.replace(/-/g, "_") } },
    },
  };
}

/** An Opaque Secret with string data. */
export function secret(name: string, stringData: Record<string, string>) {
  return { apiVersion: "v1", kind: "Secret", metadata: { name }, type: "Opaque", stringData };
}

/** The secret values a test run put into Secrets, each unique and unmistakable in any text. */
export class SecretValues {
  readonly #byLabel = new Map<string, string>();

  /** A fresh value for `label` (recorded). */
  add(label: string): string {
    const value = `sv-${randomBytes(12).toString("hex")}`;
    this.#byLabel.set(label, value);
    return value;
  }

  /** The value recorded for `label`. */
  get(label: string): string {
    const v = this.#byLabel.get(label);
    if (!v) throw new Error(`no secret value recorded for ${label}`);
    return v;
  }

  /** Every value recorded. */
  get values(): string[] {
    return [...this.#byLabel.values()];
  }
}
