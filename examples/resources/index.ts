// The walkthrough's scripts, one resource per step, with the knobs the component hides.
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import * as lvs from "pulumi-lvs";

const privateKey = fs.readFileSync(`${process.env.HOME}/.ssh/id_ed25519`, "utf8");
const vip = "192.0.2.100";
const director = { host: "192.0.2.10", user: "ops", privateKey }; // non-root: commands run under sudo -n

// echo 1 > /proc/sys/net/ipv4/ip_forward; ifconfig eth0:0 $vip netmask 255.255.255.255 up
const dir = new lvs.DirectorHost("director", { connection: director, vips: [vip], interface: "eth0", ipForward: true });

// ipvsadm -A -t $vip:80 -s wrr   (sticky for 5 minutes per /24)
const web = new lvs.VirtualService(
  "web",
  {
    connection: director,
    address: vip,
    port: 80,
    scheduler: "wrr",
    persistence: { timeout: 300, netmask: "255.255.255.0" },
  },
  { dependsOn: [dir] },
);

for (const [name, address, weight] of [
  ["a", "192.0.2.11", 1],
  ["b", "192.0.2.12", 3],
] as const) {
  // ifconfig lo:0 $vip ...; echo 1 > .../arp_ignore; echo 2 > .../arp_announce
  const host = new lvs.DrRealServerHost(`rs-${name}`, { connection: { host: address, user: "root", privateKey }, vips: [vip] });
  // ipvsadm -a -t $vip:80 -r $rip:80 -g -w $weight
  new lvs.RealServer(`web-${name}`, { service: web, address, weight, drainTimeout: 60 }, { dependsOn: [host] });
}

export const service = pulumi.interpolate`${web.protocol}/${web.address}:${web.port} ${web.scheduler}`;
