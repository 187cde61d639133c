// Every kind of health-checked service keepalived runs, as ledger values: shared by the unit
// test of their rendering and the lab's config test of the same files.
import * as model from "../../provider/model";
import type { DestValue, ServiceValue } from "../../provider/ledger";

const http = model.HealthCheck.parse({ type: "http", path: "/", interval: 1, timeout: 1, retries: 1, port: 80 });
const tcp = model.HealthCheck.parse({ type: "tcp", interval: 1, timeout: 1, retries: 1 });
const VIP = "198.51.100.100";
const VIP6 = "2001:db8:100::100";

type Kind = { service: ServiceValue; dests: DestValue[] };
const dest = (service: ServiceValue, address: string, port: number, extra: Partial<DestValue["dest"]> = {}): DestValue => ({
  service,
  dest: { address, port, forwarding: "direct", weight: 1, ...extra },
});
const kind = (service: ServiceValue, dests: (s: ServiceValue) => DestValue[]): Kind => ({ service, dests: dests(service) });

export const everyKind: Kind[] = [
  // HTTP and an alternative port as one service, sticky for 5 minutes.
  kind({ fwmark: 10, family: "ipv4", protocol: "tcp", scheduler: "rr", persistence: { timeout: 300 }, healthCheck: http }, (s) => [
    dest(s, "198.51.100.11", 0),
  ]),
  kind({ fwmark: 11, family: "ipv6", protocol: "tcp", scheduler: "rr", healthCheck: http }, (s) => [dest(s, "2001:db8:100::11", 0)]),
  kind({ address: VIP, port: 80, protocol: "tcp", scheduler: "sh", schedulerFlags: ["sh-port", "sh-fallback"], healthCheck: tcp }, (s) => [
    dest(s, "198.51.100.11", 80),
  ]),
  kind({ address: VIP, port: 5353, protocol: "udp", scheduler: "rr", onePacket: true, healthCheck: { ...tcp, port: 80 } }, (s) => [
    dest(s, "198.51.100.11", 5353),
  ]),
  kind({ address: VIP6, port: 80, protocol: "tcp", scheduler: "rr", healthCheck: tcp }, (s) => [dest(s, "2001:db8:100::11", 80)]),
  kind({ address: VIP, port: 8080, protocol: "tcp", scheduler: "rr", healthCheck: tcp }, (s) => [
    dest(s, "203.0.113.30", 8080, { forwarding: "tunnel", tunnelType: "gue", tunnelPort: 6080 }),
    dest(s, "203.0.113.31", 8080, { forwarding: "tunnel", tunnelType: "gre" }),
    dest(s, "203.0.113.32", 8080, { forwarding: "tunnel", tunnelType: "ipip" }),
  ]),
];
