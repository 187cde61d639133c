// Every kind of IPVS service on one director: dual-stack direct routing, SCTP, one-packet UDP,
// a firewall-mark service that keeps 80 and 8080 of one client on one backend, IPVS timeouts,
// a backend in another data centre through a GUE tunnel, and a NAT service that maps ports.
import * as fs from "fs";
import * as lvs from "pulumi-lvs";

const privateKey = fs.readFileSync(`${process.env.HOME}/.ssh/id_ed25519`, "utf8");
const ssh = (host: string) => ({ host, user: "root", privateKey });
const [vip, vip6, vipSticky, vipNat] = ["192.0.2.100", "2001:db8::100", "192.0.2.107", "192.0.2.108"];
const directorSsh = ssh("192.0.2.10");

const director = new lvs.DirectorHost("director", {
  connection: directorSsh,
  vips: [vip, vip6, vipSticky, vipNat],
  ipForward: true, // LVS-NAT below
  ipvsTimeouts: { tcp: 900, tcpFin: 60, udp: 120 },
});
const service = (name: string, args: Omit<lvs.VirtualServiceArgs, "connection">) =>
  new lvs.VirtualService(name, { connection: directorSsh, ...args }, { dependsOn: [director] });

const web4 = service("web4", { address: vip, port: 80, scheduler: "rr" });
const web6 = service("web6", { address: vip6, port: 80, scheduler: "rr" });
const sctp = service("signalling", { address: vip, port: 2905, protocol: "sctp", scheduler: "sh", schedulerFlags: ["sh-port"] });
const dns = service("dns", { address: vip, port: 53, protocol: "udp", scheduler: "rr", onePacket: true });
const sticky = service("sticky", {
  fwmark: 7,
  scheduler: "wlc",
  persistence: { timeout: 600 },
  match: [{ address: vipSticky, protocol: "tcp", ports: [80, 8080] }],
});
const nat = service("nat", { address: vipNat, port: 80, scheduler: "rr" });

// Two backends on the director's LAN, IPv4 and IPv6 VIPs on lo.
for (const [name, v4, v6] of [
  ["a", "192.0.2.11", "2001:db8::11"],
  ["b", "192.0.2.12", "2001:db8::12"],
] as const) {
  const host = new lvs.DrRealServerHost(`rs-${name}`, { connection: ssh(v4), vips: [vip, vip6, vipSticky] });
  const opts = { dependsOn: [host] };
  new lvs.RealServer(`web4-${name}`, { service: web4, address: v4 }, opts);
  new lvs.RealServer(`web6-${name}`, { service: web6, address: v6 }, opts);
  new lvs.RealServer(`signalling-${name}`, { service: sctp, address: v4 }, opts);
  new lvs.RealServer(`dns-${name}`, { service: dns, address: v4 }, opts);
  new lvs.RealServer(`sticky-${name}`, { service: sticky, address: v4 }, opts); // port 0: the packet keeps its own
}

// A backend in another network: the director sends it each packet inside GUE; it answers directly.
const remote = new lvs.TunRealServerHost("rs-remote", {
  connection: ssh("203.0.113.30"),
  vips: [vip],
  tunnelType: "gue",
  tunnelPort: 6080,
});
new lvs.RealServer(
  "web4-remote",
  { service: web4, address: "203.0.113.30", forwarding: "tunnel", tunnelType: "gue", tunnelPort: 6080 },
  { dependsOn: [remote] },
);

// Two NAT backends behind the director: their clients are routed through it; port 80 maps to 8080.
for (const [name, address] of [
  ["c", "192.0.2.13"],
  ["d", "192.0.2.14"],
] as const) {
  const host = new lvs.NatRealServerHost(`rs-${name}`, { connection: ssh(address), director: "192.0.2.10", clients: ["default"] });
  new lvs.RealServer(`nat-${name}`, { service: nat, address, port: 8080, forwarding: "masquerade" }, { dependsOn: [host] });
}
