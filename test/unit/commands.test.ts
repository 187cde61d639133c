import { boot, ipvs, net, q, rules, script, wrap } from "../../provider/remote/commands";

const svc = { address: "198.51.100.100", port: 80, protocol: "tcp" as const };

describe("remote command text", () => {
  test("builds ipvsadm service commands", () => {
    expect(ipvs.addService({ ...svc, scheduler: "rr" })).toBe("ipvsadm -A -t 198.51.100.100\\:80 -s rr");
    expect(ipvs.editService({ ...svc, protocol: "udp", scheduler: "wrr", persistence: { timeout: 300, netmask: "255.255.255.0" } }))
      .toBe("ipvsadm -E -u 198.51.100.100\\:80 -s wrr -p 300 -M 255.255.255.0");
    expect(ipvs.deleteService(svc)).toBe("ipvsadm -D -t 198.51.100.100\\:80");
  });

  test("builds ipvsadm destination commands with explicit thresholds", () => {
    const d = { address: "198.51.100.11", port: 80, forwarding: "direct" as const, weight: 3 };
    expect(ipvs.addDestination(svc, d)).toBe("ipvsadm -a -t 198.51.100.100\\:80 -r 198.51.100.11\\:80 -g -w 3 -x 0 -y 0");
    expect(ipvs.editDestination(svc, { ...d, forwarding: "tunnel", upperThreshold: 100, lowerThreshold: 10 }))
      .toBe("ipvsadm -e -t 198.51.100.100\\:80 -r 198.51.100.11\\:80 -i -w 3 -x 100 -y 10");
    expect(ipvs.editDestination(svc, { ...d, forwarding: "masquerade" })).toContain(" -m ");
    expect(ipvs.deleteDestination(svc, d)).toBe("ipvsadm -d -t 198.51.100.100\\:80 -r 198.51.100.11\\:80");
  });

  test("rule lines for the boot-time restore are plain ipvsadm arguments", () => {
    expect(rules.service({ ...svc, scheduler: "sh", persistence: { timeout: 60 } })).toBe("-A -t 198.51.100.100:80 -s sh -p 60");
    expect(rules.destination(svc, { address: "198.51.100.12", port: 80, forwarding: "direct", weight: 0 }))
      .toBe("-a -t 198.51.100.100:80 -r 198.51.100.12:80 -g -w 0 -x 0 -y 0");
  });

  test("quotes every value, so hostile text stays one inert word", () => {
    const evil = "1.2.3.4; reboot";
    expect(q(evil)).toBe("'1.2.3.4; reboot'");
    expect(net.addAddress(evil, "eth0 && rm -rf /")).toBe("ip addr add '1.2.3.4; reboot/32' dev 'eth0 && rm -rf /'");
    expect(net.writeSysctl("net.ipv4.ip_forward", 1)).toBe("sysctl -q -w net.ipv4.ip_forward\\=1");
    expect(ipvs.addService({ ...svc, address: "$(reboot)", scheduler: "rr" })).toBe("ipvsadm -A -t \\$\\(reboot\\)\\:80 -s rr");
  });

  test("wraps scripts in sh, sudo -n for non-root users and flock for writers", () => {
    expect(wrap("echo hi", { sudo: false, lock: false })).toBe("sh -c 'echo hi'");
    expect(wrap("echo hi", { sudo: true, lock: true })).toBe("sudo -n flock /run/pulumi-lvs.lock sh -c 'echo hi'");
    expect(script("a", "b")).toBe("set -e\na\nb");
  });

  test("persistence writes only files named after the object, and cleans up the unit when the last goes", () => {
    const save = boot.saveService({ ...svc, scheduler: "rr" }).join("\n");
    expect(save).toContain("/etc/pulumi-lvs/ipvs/tcp_198.51.100.100_80.service.rules");
    expect(save).toContain("systemctl enable");
    const remove = boot.removeDestination(svc, { address: "198.51.100.11", port: 80 }).join("\n");
    expect(remove).toContain("rm -f /etc/pulumi-lvs/ipvs/tcp_198.51.100.100_80_198.51.100.11_80.dest.rules");
    expect(remove).toContain("systemctl disable");
    expect(boot.saveHost("dr-real-server", { addrs: [{ address: "198.51.100.100", dev: "lo" }], sysctls: { "net.ipv4.conf.all.arp_ignore": 1 }, vsSysctls: {} }).join("\n"))
      .toContain("/etc/sysctl.d/90-pulumi-lvs-dr_real_server.conf");
  });
});
