/**
 * The write fence of leader election: the client's generic write gate (lib/kube/write-gate.ts)
 * with the leader's words. The manager hands controllers a client behind this fence, so a replica
 * that lost its lease cannot write even if a reconciler ignores its abort signal. What "allowed"
 * means (leading, and leadership never lost) is the manager's; this file only names the refusal.
 */
import type { Transport } from "../kube/transport.ts";
import { WriteGate, WriteRefusedError } from "../kube/write-gate.ts";

/** Raised instead of sending a write while this replica is not the leader. */
export class WriteFencedError extends WriteRefusedError {
  /** The refusal of one write; `request` is its "VERB path". */
  constructor(request: string) {
    super(request, "this replica is not the leader (writes are fenced)");
  }
}

/** A {@link WriteGate} whose refusals are {@link WriteFencedError}s: writes pass only while `allowed()`. */
export class FencedTransport extends WriteGate {
  /** A fence in front of `inner`, open while `allowed()` is true. */
  constructor(inner: Transport, allowed: () => boolean) {
    super(inner, allowed, (request) => new WriteFencedError(request));
  }
}
