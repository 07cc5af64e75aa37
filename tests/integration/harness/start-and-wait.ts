/** Helper process of teardown.test.ts: starts a control plane, prints its directory, then waits to be killed. */
import { ControlPlane } from "../../controlplane/harness.ts";

const cp = await ControlPlane.start();
console.log(`READY ${cp.info.dir}`);
setInterval(() => {}, 60_000);
