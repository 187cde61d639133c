// pulumi-lvs: one VirtualService per planned service and one RealServer per backend.
import { RealServer, VirtualService } from "pulumi-lvs";
import { SCHEDULER } from "../../rules";
import { benchConfig } from "../config";

const { connection, services, persist } = benchConfig();
for (const s of services) {
  const service = new VirtualService(s.name, { connection, address: s.address, port: s.port, scheduler: SCHEDULER, persist });
  for (const b of s.backends) new RealServer(b.name, { service, address: b.address, weight: b.weight, persist });
}
