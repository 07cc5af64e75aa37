/**
 * Operator replicas as separate processes, each behind its own fault chain
 * (operator → {@link TcpProxy} → {@link HttpFaultProxy} → kube-apiserver), supervised the way a
 * kubelet supervises a container with `restartPolicy: Always`: an exited replica is started
 * again. Every exit is recorded and classified, so the suite can tell the kills it did and the
 * by-design exit of a leader that lost its Lease from a crash the operator had on its own.
 */
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import type { ControlPlane, Identity } from "../controlplane/harness.ts";
import { writeKubeconfig } from "../controlplane/harness.ts";
import { clientFor } from "../controlplane/env.ts";
import { builtin } from "../../lib/kube/resources.ts";
import { LEASE_NAME } from "../../lib/dataflow/operator.ts";
import { OPERATOR_NAMESPACE } from "../e2e/install.ts";
import { OperatorProcess } from "../e2e/operator-process.ts";
import { HttpFaultProxy } from "../tools/http-fault-proxy.ts";
import { TcpProxy } from "../tools/tcp-proxy.ts";
import { waitFor } from "../tools/wait.ts";
import type { Prng } from "./prng.ts";

/** Why a replica's process ended. */
export type ExitCause = "killed" | "lost-leadership" | "unreachable-at-start" | "stopped" | "crash";

/** One recorded exit. */
export interface ReplicaExit {
  replica: string;
  incarnation: number;
  code: number;
  cause: ExitCause;
  /** The last output lines, for a failure message. */
  tail: string;
}

/** The manager logs this (and exits 1) when leadership is lost: an exit by design. */
const LOST_LEADERSHIP = /leadership lost; stopping at once without draining/;
/** The operator's log line when its start-up check could not reach the API server. */
const UNREACHABLE_AT_START = /start-up check failed \(reachable\)/;

/** One replica: its fault chain, kubeconfig and current process. */
export class Replica {
  /** Every incarnation's process, oldest first. */
  readonly processes: OperatorProcess[] = [];
  /** Set just before the suite kills or stops the process, so its exit is not taken for a crash. */
  expectedExit?: "killed" | "stopped";

  constructor(
    readonly name: string,
    readonly tcp: TcpProxy,
    readonly http: HttpFaultProxy,
    readonly kubeconfig: string,
  ) {}

  /** The current (latest) process. */
  get process(): OperatorProcess {
    return this.processes[this.processes.length - 1];
  }

  /** How many times it was started. */
  get incarnation(): number {
    return this.processes.length;
  }
}

/** Options of {@link Fleet.start}. */
export interface FleetOptions {
  /** Replica names (also their Lease identities, POD_NAME, stable across restarts like a pod's). */
  names: string[];
  /** Extra operator environment. */
  env?: Record<string, string>;
  prng: Prng;
}

/**
 * The pid of the operator itself under its guard shell, found in /proc (Linux) by the unique
 * metrics address on its command line; the guard's own command line (bash) is skipped.
 */
export async function operatorPid(op: OperatorProcess): Promise<number> {
  const flag = `--metrics-bind-address=${new URL(op.metricsUrl).host}`;
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = await readFile(`/proc/${entry}/cmdline`, "utf8").then(
      (s) => s.split("\0"),
      () => [] as string[],
    );
    if (argv.includes(flag) && !/(^|\/)bash$/.test(argv[0])) return Number(entry);
  }
  throw new Error(`no process with ${flag} found in /proc (is ${op.name} running?)`);
}

/** Supervised operator replicas behind fault proxies. */
export class Fleet {
  readonly replicas: Replica[] = [];
  readonly exits: ReplicaExit[] = [];
  #cp: ControlPlane;
  #env: Record<string, string>;
  #stopping = false;
  #stopped?: Promise<Record<string, number>>;
  #restarts: Promise<void>[] = [];

  private constructor(cp: ControlPlane, env: Record<string, string>) {
    this.#cp = cp;
    this.#env = env;
  }

  /** Builds each replica's fault chain and kubeconfig (the identity's token) and starts it. */
  static async start(cp: ControlPlane, identity: Identity, options: FleetOptions): Promise<Fleet> {
    if (!identity.token) throw new Error("the fleet forwards a bearer token through its proxies; got none");
    const fleet = new Fleet(cp, options.env ?? {});
    for (const name of options.names) {
      const http = await HttpFaultProxy.forControlPlane(cp, { random: options.prng.fork(name).next });
      const tcp = await TcpProxy.start({ target: http.url });
      const kubeconfig = join(cp.info.dir, `fault-${name}.kubeconfig`);
      await writeKubeconfig(
        kubeconfig,
        tcp.url,
        cp.info.caPath,
        { name, token: identity.token },
        OPERATOR_NAMESPACE,
      );
      const replica = new Replica(name, tcp, http, kubeconfig);
      fleet.replicas.push(replica);
      await fleet.#launch(replica);
    }
    return fleet;
  }

  async #launch(r: Replica): Promise<void> {
    r.expectedExit = undefined;
    const op = await OperatorProcess.start({
      name: `${r.name}#${r.incarnation + 1}`,
      kubeconfig: r.kubeconfig,
      args: ["--leader-elect=true"],
      env: { ...this.#env, POD_NAME: r.name, OPERATOR_NAMESPACE },
    });
    r.processes.push(op);
    void op.exited().then((code) => {
      const lost = code === 1 && op.lines.some((l) => LOST_LEADERSHIP.test(l));
      // A replica (re)started while its network is cut or the API server is down cannot pass the
      // start-up check: exit 1 by design, restarted like a container.
      const unreachable = code === 1 && op.lines.some((l) => UNREACHABLE_AT_START.test(l));
      const cause: ExitCause = r.expectedExit ??
        (lost ? "lost-leadership" : unreachable ? "unreachable-at-start" : "crash");
      this.exits.push({
        replica: r.name,
        incarnation: r.processes.indexOf(op) + 1,
        code,
        cause,
        tail: op.tail(30),
      });
      if (this.#stopping || r.expectedExit === "stopped") return;
      // Restarted like a container (kubelet waits a little before the first restart too).
      this.#restarts.push(
        new Promise((res) => setTimeout(res, 1_000)).then(() => this.#stopping ? undefined : this.#launch(r)),
      );
    });
  }

  /** Every output line of every replica and incarnation (running ones included). */
  allLines(): string[] {
    return this.replicas.flatMap((r) => r.processes.flatMap((p) => p.lines));
  }

  /** The replica named by the Lease's holderIdentity, when that replica is running. */
  async leader(): Promise<Replica | undefined> {
    const lease = await clientFor(this.#cp).get<{ spec?: { holderIdentity?: string } }>(
      builtin.Lease,
      LEASE_NAME,
      { namespace: OPERATOR_NAMESPACE },
    ).catch(() => undefined);
    const holder = lease?.spec?.holderIdentity;
    return this.replicas.find((r) => r.name === holder && r.process.running);
  }

  /** Waits for a running leader that has logged "became leader" in its current incarnation. */
  waitLeader(timeoutMs: number): Promise<Replica> {
    return waitFor("an operator replica to become leader", async () => {
      const r = await this.leader();
      return r && r.process.lines.some((l) => /became leader/.test(l)) ? r : undefined;
    }, {
      timeoutMs,
      intervalMs: 250,
      describe: () =>
        this.replicas.map((r) => `${r.name}#${r.incarnation} running=${r.process.running}`).join(", ") +
        "\n" +
        this.replicas.map((r) => `--- ${r.name}\n${r.process.tail(15)}`).join("\n"),
    });
  }

  /**
   * SIGKILLs the operator process itself (not its guard shell, which then reports exit 137), so
   * whatever it was doing is cut off mid-way; recorded as a kill, and restarted. The pid is looked
   * up first and the signal sent the moment `when` resolves (e.g. on its next write log line).
   */
  async kill(r: Replica, when: () => Promise<unknown> = () => Promise.resolve()): Promise<number> {
    const pid = await operatorPid(r.process);
    await when();
    r.expectedExit = "killed";
    process.kill(pid, "SIGKILL");
    const code = await Promise.race([
      r.process.exited(),
      new Promise<undefined>((res) => setTimeout(() => res(undefined), 10_000)),
    ]);
    if (code === undefined) {
      throw new Error(`${r.process.name} (pid ${pid}) did not exit within 10 s of SIGKILL`);
    }
    return code;
  }

  /** Every fault proxy of the fleet. */
  get proxies(): HttpFaultProxy[] {
    return this.replicas.map((r) => r.http);
  }

  /** Exits the suite did not cause and the design does not explain. */
  crashes(): ReplicaExit[] {
    return this.exits.filter((e) => e.cause === "crash");
  }

  /** SIGTERMs every replica (recorded as stops), then closes the proxies. Returns the exit codes. */
  stop(): Promise<Record<string, number>> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<Record<string, number>> {
    this.#stopping = true;
    await Promise.allSettled(this.#restarts);
    const codes: Record<string, number> = {};
    for (const r of this.replicas) {
      if (!r.process) continue;
      if (r.process.running) r.expectedExit = "stopped";
      codes[r.name] = await r.process.stop("SIGTERM", 20_000);
    }
    // The exit handlers record the stops before the proxies go.
    await waitFor(
      "every replica's last exit recorded",
      () =>
        this.replicas.every((r) =>
          !r.process || this.exits.some((e) => e.replica === r.name && e.incarnation === r.processes.length)
        ),
      { timeoutMs: 10_000, intervalMs: 10 },
    );
    for (const r of this.replicas) {
      await r.tcp.close();
      await r.http.close();
    }
    return codes;
  }

  /** Writes each incarnation's output to `<dir>/<replica>-<n>.log` (CI artefacts of a failing run). */
  async writeLogs(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    for (const r of this.replicas) {
      for (const [i, p] of r.processes.entries()) {
        await writeFile(join(dir, `${r.name}-${i + 1}.log`), p.lines.join("\n") + "\n");
      }
    }
  }

  /** A one-line summary of exits, for the test log. */
  summary(): string {
    return this.exits.map((e) => `${e.replica}#${e.incarnation}: exit ${e.code} (${e.cause})`).join("; ") ||
      "no exits";
  }
}
