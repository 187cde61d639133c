// The owner each resource records on its hosts is the URN the engine gives it: computed in the
// resource class without awaiting the parent, and compared here with the engine's own URN
// (Pulumi's mock runtime assigns URNs the engine's way).
import * as pulumi from "@pulumi/pulumi";
import { mockEngine } from "./mock-engine";

jest.setTimeout(30_000);

test("a resource's owner is its URN, inside a component and at the top level", async () => {
  mockEngine();
  const { LvsDrCluster, DrRealServerHost } = await import("../../provider");
  const value = <T>(o: pulumi.Output<T>) => new Promise<T>((r) => o.apply(r));
  const cluster = new LvsDrCluster("web", {
    director: { host: "127.0.0.1" },
    vip: "198.51.100.100",
    port: 80,
    backends: [{ name: "a", address: "198.51.100.11", connection: { host: "127.0.0.1" } }],
  });
  const alone = new DrRealServerHost("alone", { connection: { host: "127.0.0.1" }, vips: ["198.51.100.100"] });
  for (const r of [cluster.director, cluster.service, cluster.realServers[0], cluster.backendHosts[0], alone]) {
    const inputs = await value(r.owner);
    expect(inputs).toBe(await value(r.urn));
  }
});
