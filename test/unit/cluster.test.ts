// LvsDrCluster declares every resource with the cluster-wide settings (Pulumi's mock runtime
// records each resource's inputs as the engine would receive them).
import * as pulumi from "@pulumi/pulumi";
import { mockEngine } from "./mock-engine";

jest.setTimeout(30_000);

test("adopt reaches every resource the cluster declares, whatever its forwarding", async () => {
  const inputs: Record<string, Record<string, unknown>> = {};
  mockEngine((name, i) => (inputs[name] = i));
  const { LvsDrCluster } = await import("../../provider");
  const urn = (r: pulumi.Resource) => new Promise((done) => r.urn.apply(done));
  const connection = { host: "127.0.0.1" };
  for (const forwarding of ["direct", "tunnel", "masquerade"] as const) {
    const c = new LvsDrCluster(forwarding, {
      director: connection,
      vip: "198.51.100.100",
      port: 80,
      forwarding,
      natGateway: "198.51.100.10",
      adopt: "own",
      backends: [{ name: "a", address: "198.51.100.11", connection }],
    });
    await Promise.all([c.director, c.service, ...c.realServers, ...c.backendHosts].map(urn));
  }
  const resources = Object.entries(inputs).filter(([name]) => !["direct", "tunnel", "masquerade"].includes(name));
  expect(resources).toHaveLength(12);
  for (const [name, i] of resources) expect([name, i.adopt]).toEqual([name, "own"]);
});
