// pulumi-lvs: one VirtualService per planned service and one RealServer per backend, or, with
// `bench:inline` (the lvs-inline column), each service's backends inline as its `realServers`.
import * as pulumi from "@pulumi/pulumi";
import { RealServer, VirtualService } from "pulumi-lvs";
import { SCHEDULER } from "../../rules";
import { benchConfig } from "../config";

const { connection, services, persist } = benchConfig();
const inline = new pulumi.Config("bench").getBoolean("inline") ?? false;
for (const s of services) {
  const realServers = inline ? s.backends.map((b) => ({ address: b.address, weight: b.weight })) : undefined;
  const service = new VirtualService(s.name, { connection, address: s.address, port: s.port, scheduler: SCHEDULER, persist, realServers });
  if (!inline) for (const b of s.backends) new RealServer(b.name, { service, address: b.address, weight: b.weight, persist });
}
