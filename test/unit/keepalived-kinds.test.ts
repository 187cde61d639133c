// Health checks on every kind of service keepalived can run: firewall marks (IPv4 and IPv6),
// scheduler flags, one-packet scheduling, GUE and GRE tunnels. The rendered blocks here; the
// lab passes each through keepalived's own config test (test/e2e/keepalived-config.test.ts).
import * as model from "../../provider/model";
import { validate } from "../../provider/validate";
import { Plan } from "../../provider/holds/plan";
import { keys } from "../../provider/ledger";
import { fileOf, keepalivedFiles } from "../../provider/remote/keepalived";
import { emptySnapshot } from "./plan-support";
import { everyKind } from "./keepalived-kinds";

const connection = { host: "127.0.0.1", port: 2220, privateKey: "KEY" };
const reasons = (input: unknown) => {
  const v = validate(model.VirtualServiceArgs, { connection, ...(input as object) });
  return v.kind === "invalid" ? v.failures.map((f) => `${f.property}: ${f.reason}`) : [];
};
const files = () => {
  const plan = new Plan(emptySnapshot({ keepalived: { installed: true, enabled: true, active: false, conf: "absent", include: false } }));
  everyKind.forEach(({ service, dests }, i) => {
    plan.op(`s${i}`, (p) => p.claim(`s${i}`, { services: [service], keepalived: true, persist: true }));
    plan.op(`d${i}`, (p) => p.claim(`d${i}`, { dests, persist: true }));
  });
  return { plan, files: keepalivedFiles(plan.ledger) };
};
const body = (text: string) => text.split("\n").slice(1);

describe("validation", () => {
  const check = { type: "http", path: "/" };
  test("a health check is accepted with scheduler flags, one-packet scheduling and on fwmark services", () => {
    expect(reasons({ address: "198.51.100.100", port: 80, scheduler: "sh", schedulerFlags: ["sh-port"], healthCheck: check })).toEqual([]);
    expect(reasons({ address: "198.51.100.100", port: 53, protocol: "udp", onePacket: true, healthCheck: check })).toEqual([]);
    expect(reasons({ fwmark: 1, healthCheck: { ...check, port: 80 } })).toEqual([]);
  });
  test("on a fwmark service a connecting check names its port (the backends have none)", () => {
    expect(reasons({ fwmark: 1, healthCheck: check })).toEqual([
      "healthCheck.port: is required on a fwmark service (its backends have no port of their own to check)",
    ]);
    expect(reasons({ fwmark: 1, healthCheck: { type: "command", command: "/usr/local/bin/probe" } })).toEqual([]);
  });
});

describe("rendering", () => {
  test("file names: one per service, fwmark services by family and mark", () => {
    const { plan } = files();
    const names = everyKind.map(({ service }) => {
      const e = plan.ledger.entries[keys.service(service)];
      return e.kind === "service" && fileOf(e);
    });
    expect(names).toEqual([
      "vs-fwmark-10.conf",
      "vs-fwmark6-11.conf",
      "vs-tcp-198.51.100.100-80.conf",
      "vs-udp-198.51.100.100-5353.conf",
      "vs-tcp-2001:db8:100::100-80.conf",
      "vs-tcp-198.51.100.100-8080.conf",
    ]);
  });

  test("a fwmark service: no protocol line, real servers on port 0 checked on the check's port; IPv6 says its family", () => {
    const f = files().files;
    expect(body(f["vs-fwmark-10.conf"])).toEqual([
      "virtual_server fwmark 10 {",
      "    delay_loop 1",
      "    lb_algo rr",
      "    alpha",
      "    lb_kind DR",
      "    persistence_timeout 300",
      "    real_server 198.51.100.11 0 {",
      "        weight 1",
      "        HTTP_GET {",
      "            url {",
      "                path /",
      "                status_code 200",
      "            }",
      "            connect_port 80",
      "            connect_timeout 1",
      "            retry 1",
      "            delay_before_retry 1",
      "            delay_loop 1",
      "        }",
      "    }",
      "}",
      "",
    ]);
    expect(body(f["vs-fwmark6-11.conf"]).slice(0, 3)).toEqual(["virtual_server fwmark 11 {", "    ip_family inet6", "    delay_loop 1"]);
    expect(f["vs-fwmark6-11.conf"]).toContain("    real_server 2001:db8:100::11 0 {");
  });

  test("scheduler flags and one-packet scheduling are keywords of their own", () => {
    const f = files().files;
    expect(body(f["vs-tcp-198.51.100.100-80.conf"]).slice(0, 5)).toEqual([
      "virtual_server 198.51.100.100 80 {",
      "    delay_loop 1",
      "    lb_algo sh",
      "    sh-port",
      "    sh-fallback",
    ]);
    expect(body(f["vs-udp-198.51.100.100-5353.conf"]).slice(0, 6)).toEqual([
      "virtual_server 198.51.100.100 5353 {",
      "    delay_loop 1",
      "    lb_algo rr",
      "    ops",
      "    alpha",
      "    lb_kind DR",
    ]);
  });

  test("tunnelled backends: GUE with its port and GRE say their type; ipip is keepalived's TUN default", () => {
    const f = files().files["vs-tcp-198.51.100.100-8080.conf"];
    expect(f).toContain("    lb_kind TUN\n");
    expect(f).toContain("    real_server 203.0.113.30 8080 {\n        weight 1\n        lvs_method TUN type gue port 6080\n");
    expect(f).toContain("    real_server 203.0.113.31 8080 {\n        weight 1\n        lvs_method TUN type gre\n");
    expect(f).toContain("    real_server 203.0.113.32 8080 {\n        weight 1\n        TCP_CHECK {\n");
  });
});
