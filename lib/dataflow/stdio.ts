/**
 * Standard output and error that survive a reader going away. With the operator's output piped
 * (`dataflow-operator run | cat`, `crd | head -1`), the reader may exit first, for example on the
 * same Ctrl-C; the next write then fails with EPIPE. Unhandled, that error ends the process before
 * it drains its reconciles and releases its Lease. Here a failed stream is marked broken and every
 * later write to it is dropped: the operator shuts down as if nothing had happened.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import process from "node:process";
import { ConfigError } from "../kube/mod.ts";

const broken = new WeakSet<NodeJS.WriteStream>();
let guarded = false;

/** Installs error handlers on process.stdout and process.stderr (once): a failed stream is dropped. */
export function guardStdio(): void {
  if (guarded) return;
  guarded = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", () => broken.add(stream));
  }
}

/** Writes without ever throwing; later writes to a stream that failed are dropped. */
export function writeSafely(stream: NodeJS.WriteStream, text: string): void {
  if (broken.has(stream) || stream.destroyed) return;
  try {
    stream.write(text);
  } catch {
    broken.add(stream);
  }
}

/**
 * Resolves once the stream has handed the text to the OS (so a process.exit() after it loses
 * nothing), or at once when the stream is broken; never rejects.
 */
export function writeFlushed(stream: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve) => {
    if (broken.has(stream) || stream.destroyed) return resolve();
    // A runtime that never calls back on a failed write must not keep the process alive forever.
    const timer = setTimeout(resolve, 2_000);
    const done = () => (clearTimeout(timer), resolve());
    try {
      stream.write(text, done);
    } catch {
      broken.add(stream);
      done();
    }
  });
}

/**
 * The log sink of `run`: appends to `file` (`--log-file`) when given, else standard error; writes
 * never throw (a full disk or a closed pipe loses lines, not the shutdown).
 * @throws ConfigError when the file cannot be opened for appending
 */
export function logSink(file?: string): { write: (line: string) => void; close: () => void } {
  if (!file) return { write: (line) => writeSafely(process.stderr, line), close: () => {} };
  let fd: number | undefined;
  try {
    fd = openSync(file, "a");
  } catch (err) {
    throw new ConfigError(`--log-file=${file}: ${(err as Error).message}`);
  }
  return {
    write: (line) => {
      if (fd === undefined) return;
      try {
        writeSync(fd, line);
      } catch {
        // Dropped: nowhere left to report it.
      }
    },
    close: () => {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}
