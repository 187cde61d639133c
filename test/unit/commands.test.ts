import { ipvs, net, q, restoreLine, rules, transactionCommand, wrap } from "../../provider/remote/commands";

const svc = { address: "198.51.100.100", port: 80, protocol: "tcp" as const };

describe("remote command text", () => {
  test("builds ipvsadm service commands", () => {
    expect(ipvs.addService({ ...svc, scheduler: "rr" })).toBe("ipvsadm -A -t 198.51.100.100\\:80 -s rr");
    expect(ipvs.editService({ ...svc, protocol: "udp", scheduler: "wrr", persistence: { timeout: 300, netmask: "255.255.255.0" } })).toBe(
      "ipvsadm -E -u 198.51.100.100\\:80 -s wrr -p 300 -M 255.255.255.0",
    );
    expect(ipvs.deleteService(svc)).toBe("ipvsadm -D -t 198.51.100.100\\:80");
  });

  test("builds ipvsadm destination commands with explicit thresholds", () => {
    const d = { address: "198.51.100.11", port: 80, forwarding: "direct" as const, weight: 3 };
    expect(ipvs.addDestination(svc, d)).toBe("ipvsadm -a -t 198.51.100.100\\:80 -r 198.51.100.11\\:80 -g -w 3 -x 0 -y 0");
    expect(ipvs.editDestination(svc, { ...d, forwarding: "tunnel", upperThreshold: 100, lowerThreshold: 10 })).toBe(
      "ipvsadm -e -t 198.51.100.100\\:80 -r 198.51.100.11\\:80 -i -w 3 -x 100 -y 10",
    );
    expect(ipvs.editDestination(svc, { ...d, forwarding: "masquerade" })).toContain(" -m ");
    expect(ipvs.deleteDestination(svc, d)).toBe("ipvsadm -d -t 198.51.100.100\\:80 -r 198.51.100.11\\:80");
  });

  test("a rule change's ipvsadm -R line is its words unquoted; other commands have none", () => {
    const k = { address: "198.51.100.100", port: 80, protocol: "tcp" as const };
    expect(restoreLine(ipvs.deleteDestination(k, { address: "198.51.100.11", port: 80 }))).toBe(
      "-d -t 198.51.100.100:80 -r 198.51.100.11:80",
    );
    expect(restoreLine(ipvs.deleteService(k))).toBe("-D -t 198.51.100.100:80");
    expect(restoreLine("ipvsadm -S -n")).toBeUndefined();
    expect(restoreLine("ip addr replace 198.51.100.100/32 dev lo")).toBeUndefined();
    expect(restoreLine("ipvsadm -A -t 198.51.100.100\\:80 -s 'r r'")).toBeUndefined();
  });

  test("rule lines for the boot-time restore are plain ipvsadm arguments", () => {
    expect(rules.service({ ...svc, scheduler: "sh", persistence: { timeout: 60 } })).toBe("-A -t 198.51.100.100:80 -s sh -p 60");
    expect(rules.destination(svc, { address: "198.51.100.12", port: 80, forwarding: "direct", weight: 0 })).toBe(
      "-a -t 198.51.100.100:80 -r 198.51.100.12:80 -g -w 0 -x 0 -y 0",
    );
  });

  test("quotes every value, so hostile text stays one inert word", () => {
    const evil = "1.2.3.4; reboot";
    expect(q(evil)).toBe("'1.2.3.4; reboot'");
    expect(net.addAddress({ address: evil, prefix: 32, dev: "eth0 && rm -rf /" })).toBe(
      "ip addr replace '1.2.3.4; reboot/32' dev 'eth0 && rm -rf /'",
    );
    expect(net.writeSysctl("net.ipv4.ip_forward", 1)).toBe("sysctl -q -w net.ipv4.ip_forward\\=1");
    expect(ipvs.addService({ ...svc, address: "$(reboot)", scheduler: "rr" })).toBe("ipvsadm -A -t \\$\\(reboot\\)\\:80 -s rr");
  });

  test("wraps scripts in sh, sudo -n for non-root users and flock for writers", () => {
    expect(wrap("echo hi", { sudo: false, lock: false })).toBe("sh -c 'echo hi'");
    expect(wrap("echo hi", { sudo: true, lock: true })).toBe("sudo -n flock /run/pulumi-lvs.lock sh -c 'echo hi'");
  });

  test("a transaction runs its write only when it arrived whole", () => {
    const cmd = transactionCommand("ipvsadm -S -n");
    expect(cmd.split("\n")[0]).toBe("ipvsadm -S -n");
    expect(cmd).toContain(`tail -n 1 "$f")" = '# pulumi-lvs: end of script'`);
    expect(cmd).toContain("nothing was run");
  });
});
