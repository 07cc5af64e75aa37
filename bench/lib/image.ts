/**
 * The operator image's size, measured: built (or reused when current) by `deno task image`'s script,
 * its uncompressed size as podman reports it (the sum of its layers), and its compressed size: the
 * bytes of `podman save` (a tar of config and layers) through gzip -6, about what a registry stores
 * for its gzip layers. Also the runtime base's own size, to show what the binary's layer adds.
 */
import { spawn } from "node:child_process";
import { createGzip } from "node:zlib";
import { buildImage, podmanFlags, podmanOk } from "../../tests/image/podman.ts";

/** What {@link measureImage} found. */
export interface ImageSize {
  ok: boolean;
  /** The reference, e.g. localhost/dataflow-operator:0.1.0. */
  image?: string;
  /** Uncompressed bytes (podman image inspect .Size). */
  bytes?: number;
  /** Bytes of `podman save | gzip -6`. */
  gzipBytes?: number;
  /** The runtime base (the image's org.opencontainers.image.base.name label) and its bytes. */
  base?: string;
  baseBytes?: number;
  /** Seconds to build (or find current) the image. */
  buildSeconds?: number;
  /** Why it could not be measured. */
  error?: string;
}

/** Counts the gzip -6 bytes of `podman save <image>` without writing the archive anywhere. */
async function savedGzipBytes(image: string): Promise<number> {
  const global = (await podmanFlags()).global;
  return await new Promise((resolve, reject) => {
    const save = spawn("podman", [...global, "save", "--format", "docker-archive", image], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "", bytes = 0;
    save.stderr!.on("data", (d) => stderr += d);
    const gzip = createGzip({ level: 6 });
    gzip.on("data", (chunk: Uint8Array) => bytes += chunk.length);
    save.stdout!.pipe(gzip);
    let saved = false, zipped = false;
    const done = () => saved && zipped && resolve(bytes);
    gzip.on("end", () => (zipped = true, done()));
    save.on("error", reject);
    save.on("close", (code) => {
      if (code !== 0) reject(new Error(`podman save exited ${code}: ${stderr.trim()}`));
      else (saved = true, done());
    });
  });
}

/** Builds (or reuses) the image and measures it; failures are reported, not thrown. */
export async function measureImage(): Promise<ImageSize> {
  try {
    const t0 = performance.now();
    const image = await buildImage();
    const buildSeconds = (performance.now() - t0) / 1000;
    const bytes = Number(await podmanOk(["image", "inspect", "--format", "{{.Size}}", image]));
    const base = await podmanOk([
      "image",
      "inspect",
      "--format",
      '{{index .Labels "org.opencontainers.image.base.name"}}',
      image,
    ]);
    const baseBytes = Number(await podmanOk(["image", "inspect", "--format", "{{.Size}}", base]));
    return { ok: true, image, bytes, gzipBytes: await savedGzipBytes(image), base, baseBytes, buildSeconds };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}
