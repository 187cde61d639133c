// Pulumi stores each dynamic provider's serialized code in the state and runs that
// stored copy on refresh and destroy. It must be a thin shim: no SSH library code,
// no credentials, no environment values, only the provider's name.
import * as pulumi from "@pulumi/pulumi";
import { shimFor } from "../../provider/shim";

describe.each(["DirectorHost", "VirtualService", "RealServer", "DrRealServerHost"] as const)("%s provider", (name) => {
  test("serializes to a small shim that requires the runtime at call time", async () => {
    process.env.PULUMI_LVS_TEST_SECRET = "do-not-capture";
    const provider = shimFor(name);
    const sf = await pulumi.runtime.serializeFunction(() => provider);
    expect(sf.containsSecrets).toBe(false);
    expect(sf.text).toContain('require("pulumi-lvs/runtime")');
    expect(sf.text).toContain(JSON.stringify(name));
    expect(sf.text).not.toMatch(/ssh2|node-ssh|NodeSSH|do-not-capture|zod/);
    expect(sf.text.length).toBeLessThan(4000);
  });

  test("is one object per kind, so the SDK serializes it once, not once per resource", () => {
    expect(shimFor(name)).toBe(shimFor(name));
  });
});
