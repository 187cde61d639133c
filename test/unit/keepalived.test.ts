// keepalived without a host: the files pulumi-lvs renders from the ledger, what a transaction
// runs around them (config test before any change; everything put back by the last user), the
// plan leaving health-checked objects to keepalived, and validation of checks and VRRP.
import * as model from "../../provider/model";
import { emptySnapshot } from "./plan-support";
import { clone, emptyLedger, keys } from "../../provider/ledger";
import { Plan, Snapshot } from "../../provider/holds/plan";
import { keepalivedCommands, keepalivedFiles, parseKeepalivedState, renderVrrp } from "../../provider/remote/keepalived";
import { parseDaemons } from "../../provider/remote/parsers";
import { write } from "../../provider/holds/script";
import { validate } from "../../provider/validate";
import { needKeepalived } from "../../provider/runtime/host-state";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as commands from "../../provider/remote/commands";

const captured = (name: string) => fs.readFileSync(path.join(__dirname, "../lab/captured", name), "utf8");

const VIP = "198.51.100.100";
const check = model.HealthCheck.parse({ type: "http", interval: 2, timeout: 2 });
const svc = { address: VIP, port: 80, protocol: "tcp" as const, scheduler: "rr" as const, healthCheck: check };
const key = { address: VIP, port: 80, protocol: "tcp" as const };
const rs = (address: string, weight = 1) => ({ service: key, dest: { address, port: 80, forwarding: "direct" as const, weight } });
const vrrp = {
  dev: "eth1",
  vips: [VIP],
  virtualRouterId: 51,
  priority: 150,
  preempt: true,
  preemptDelay: 0,
  advertInterval: 1,
  authPass: "s3cret",
};
const snapshot = (over: Partial<Snapshot> = {}): Snapshot =>
  emptySnapshot({ keepalived: { installed: true, enabled: true, active: false, conf: "absent", include: false }, ...over });
const liveService = (dests: { address: string; weight: number }[]) =>
  new Map([
    [
      "tcp/198.51.100.100:80",
      {
        ...key,
        scheduler: "rr" as const,
        persistence: undefined,
        extra: [],
        destinations: dests.map((d) => ({ ...d, port: 80, forwarding: "direct" as const, activeConn: 0, inactConn: 0 })),
      },
    ],
  ]);
const commandsOf = (p: Plan) => p.groups.flatMap((g) => g.commands.map(String));
/** One operation of a batch: a claim of everything `owner` holds. */
const claim = (p: Plan, owner: string, c: Parameters<Plan["claim"]>[1]) => p.op(owner, (q) => q.claim(owner, c));

describe("keepalived files", () => {
  test("a VRRP instance: every director starts BACKUP, the election decides; unicast peers and PASS auth when set", () => {
    expect(
      renderVrrp({ ...vrrp, preempt: false, unicastPeers: ["198.51.100.13"] })
        .split("\n")
        .slice(1),
    ).toEqual([
      "vrrp_instance pulumi_lvs_eth1_51 {",
      "    state BACKUP",
      "    interface eth1",
      "    virtual_router_id 51",
      "    priority 150",
      "    advert_int 1",
      "    nopreempt",
      "    unicast_peer {",
      "        198.51.100.13",
      "    }",
      "    authentication {",
      "        auth_type PASS",
      "        auth_pass s3cret",
      "    }",
      "    virtual_ipaddress {",
      "        198.51.100.100/32 dev eth1",
      "    }",
      "}",
      "",
    ]);
  });

  test("a health-checked service with its real servers; a draining one at weight 0", () => {
    const plan = new Plan(snapshot());
    claim(plan, "svc", { services: [svc], keepalived: true, persist: true });
    claim(plan, "a", { dests: [rs("198.51.100.11", 3)], persist: true });
    claim(plan, "b", {
      dests: [{ ...rs("198.51.100.12"), healthCheck: model.HealthCheck.parse({ type: "tcp", onFailure: "weight0" }) }],
      persist: true,
    });
    plan.ledger.entries[keys.dest(key, rs("198.51.100.11").dest)].draining = true;
    const text = keepalivedFiles(plan.ledger)["vs-tcp-198.51.100.100-80.conf"];
    expect(text.split("\n").slice(1).join("\n")).toBe(
      [
        "virtual_server 198.51.100.100 80 {",
        "    delay_loop 2",
        "    lb_algo rr",
        "    alpha",
        "    lb_kind DR",
        "    protocol TCP",
        "    real_server 198.51.100.11 80 {",
        "        weight 0",
        "        HTTP_GET {",
        "            url {",
        "                path /",
        "                status_code 200",
        "            }",
        "            connect_port 80",
        "            connect_timeout 2",
        "            retry 1",
        "            delay_before_retry 1",
        "            delay_loop 2",
        "        }",
        "    }",
        "    real_server 198.51.100.12 80 {",
        "        weight 1",
        "        inhibit_on_failure",
        "        TCP_CHECK {",
        "            connect_port 80",
        "            connect_timeout 3",
        "            retry 1",
        "            delay_before_retry 1",
        "            delay_loop 5",
        "        }",
        "    }",
        "}",
        "",
      ].join("\n"),
    );
  });
});

describe("the plan leaves health-checked objects to keepalived", () => {
  test("creating a health-checked service and its backends runs no ipvsadm: keepalived adds them on reload", () => {
    const plan = new Plan(snapshot());
    plan.op("0", (p) => p.claim("svc", { services: [svc], keepalived: true, persist: true }));
    plan.op("1", (p) => p.claim("a", { dests: [rs("198.51.100.11")], persist: true }));
    expect(commandsOf(plan)).toEqual([]);
    expect(plan.ledger.entries[keys.keepalived()].original).toEqual({ installed: true, enabled: true, active: false, conf: "absent" });
  });

  test("a backend keepalived set to weight 0 (inhibit_on_failure) is down, not drift; a hand-changed weight is repaired", () => {
    const inhibit = { ...svc, healthCheck: { ...check, onFailure: "weight0" as const } };
    const s0 = snapshot();
    const first = new Plan(s0);
    claim(first, "svc", { services: [inhibit], keepalived: true, persist: true });
    claim(first, "a", { dests: [rs("198.51.100.11", 2)], persist: true });
    const down = new Plan({ ...s0, ledger: first.ledger, ipvs: liveService([{ address: "198.51.100.11", weight: 0 }]) });
    claim(down, "a", { dests: [rs("198.51.100.11", 2)], persist: true });
    expect(commandsOf(down)).toEqual([]);
    const edited = new Plan({ ...s0, ledger: first.ledger, ipvs: liveService([{ address: "198.51.100.11", weight: 7 }]) });
    claim(edited, "a", { dests: [rs("198.51.100.11", 2)], persist: true });
    expect(commandsOf(edited)).toEqual(["ipvsadm -e -t 198.51.100.100\\:80 -r 198.51.100.11\\:80 -g -w 2 -x 0 -y 0"]);
  });

  test("a health-checked service removed from the kernel by hand makes the next transaction restart keepalived", () => {
    const first = new Plan(snapshot());
    claim(first, "svc", { services: [svc], keepalived: true, persist: true });
    // Without real servers keepalived has no virtual_server (it refuses an empty one): nothing is missing.
    expect(keepalivedFiles(first.ledger)).toEqual({});
    const empty = new Plan(snapshot({ ledger: first.ledger }));
    claim(empty, "svc", { services: [svc], keepalived: true, persist: true });
    expect(empty.keepalivedRestart).toBe(false);
    claim(first, "a", { dests: [rs("198.51.100.11")], persist: true });
    const next = new Plan(snapshot({ ledger: first.ledger }));
    claim(next, "svc", { services: [svc], keepalived: true, persist: true });
    expect(next.keepalivedRestart).toBe(true);
  });

  test("a command check turns on keepalived's script security (it refuses to run checks without)", () => {
    const plan = new Plan(snapshot());
    claim(plan, "svc", {
      services: [{ ...svc, healthCheck: model.HealthCheck.parse({ type: "command", command: "/usr/local/bin/probe" }) }],
      keepalived: true,
      persist: true,
    });
    claim(plan, "a", { dests: [rs("198.51.100.11")], persist: true });
    const files = keepalivedFiles(plan.ledger);
    expect(files["00-script-security.conf"]).toContain("enable_script_security\n    script_user root");
    expect(files["vs-tcp-198.51.100.100-80.conf"]).toContain('misc_path "/usr/local/bin/probe"');
  });
});

describe("turning a health check off", () => {
  test("keepalived deletes the service on reload; ipvsadm adds it back with its real servers once it did", () => {
    const s0 = new Plan(snapshot());
    claim(s0, "svc", { services: [svc], keepalived: true, persist: true });
    claim(s0, "a", { dests: [rs("198.51.100.11", 2)], persist: true });
    const have = { [`/etc/keepalived/pulumi-lvs.d/vs-tcp-198.51.100.100-80.conf`]: "x" };
    const off = new Plan(snapshot({ ledger: s0.ledger, ipvs: liveService([{ address: "198.51.100.11", weight: 2 }]) }));
    claim(off, "svc", { services: [{ ...svc, healthCheck: undefined }], keepalived: false, persist: true });
    expect(commandsOf(off)).toEqual([]);
    const k = keepalivedCommands(s0.ledger, off.ledger, { ...snapshot().keepalived!, active: true, include: true }, have, false);
    expect(k.after.slice(-3)).toEqual([
      "i=0; while ipvsadm -L -n -t 198.51.100.100\\:80 >/dev/null 2>&1 && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done",
      "ipvsadm -A -t 198.51.100.100\\:80 -s rr 2>/dev/null || ipvsadm -E -t 198.51.100.100\\:80 -s rr",
      "ipvsadm -a -t 198.51.100.100\\:80 -r 198.51.100.11\\:80 -g -w 2 -x 0 -y 0 2>/dev/null || ipvsadm -e -t 198.51.100.100\\:80 -r 198.51.100.11\\:80 -g -w 2 -x 0 -y 0",
    ]);
    expect(k.after).toContain("systemctl stop keepalived");
    // With keepalived still in use (a VRRP instance), the same after its reload.
    claim(s0, "d", { vrrp: [vrrp], keepalived: true, persist: true });
    const kept = new Plan(snapshot({ ledger: s0.ledger }));
    claim(kept, "svc", { services: [{ ...svc, healthCheck: undefined }], keepalived: false, persist: true });
    const k2 = keepalivedCommands(s0.ledger, kept.ledger, { ...snapshot().keepalived!, active: true, include: true }, have, false);
    expect(k2.after.slice(-4)).toEqual(["systemctl reload keepalived", ...k.after.slice(-3)]);
  });
});

describe("turning a health check on", () => {
  const FILE = "/etc/keepalived/pulumi-lvs.d/vs-tcp-198.51.100.100-80.conf";
  const running = { ...snapshot().keepalived!, active: true, include: true };
  const ipvsadmOwned = () => {
    const s0 = new Plan(snapshot());
    claim(s0, "svc", { services: [{ ...svc, healthCheck: undefined }], keepalived: false, persist: true });
    claim(s0, "a", { dests: [rs("198.51.100.11")], persist: true });
    claim(s0, "d", { vrrp: [vrrp], keepalived: true, persist: true });
    return s0;
  };
  const turnOn = (s0: Plan) => {
    const on = new Plan(snapshot({ ledger: s0.ledger, ipvs: liveService([{ address: "198.51.100.11", weight: 1 }]) }));
    claim(on, "svc", { services: [svc], keepalived: true, persist: true });
    return on;
  };

  test("ipvsadm's service is deleted just before keepalived reads its file, so keepalived's checks decide every backend", () => {
    const s0 = ipvsadmOwned();
    const on = turnOn(s0);
    const have = { "/etc/keepalived/pulumi-lvs.d/vrrp-eth1-51.conf": "x" };
    const k = keepalivedCommands(s0.ledger, on.ledger, running, have, false);
    const del = k.after.indexOf("ipvsadm -D -t 198.51.100.100\\:80 2>/dev/null || true");
    expect(del).toBeGreaterThan(k.after.findIndex((c) => c.includes(FILE)));
    expect(k.after[del + 1]).toBe("systemctl reload keepalived");
    // keepalived starting (not yet running) takes it over the same way.
    const k2 = keepalivedCommands(s0.ledger, on.ledger, { ...running, active: false }, have, false);
    expect(k2.after[k2.after.indexOf(k.after[del]) + 1]).toBe("systemctl start keepalived");
    // A service made by hand, adopted with a check (no entry before): the same.
    expect(keepalivedCommands(emptyLedger(), on.ledger, running, have, false).after).toContain(k.after[del]);
  });

  test("a service keepalived already runs is never deleted: not on a change, not when its file was removed by hand", () => {
    const s0 = ipvsadmOwned();
    const on = turnOn(s0);
    const again = new Plan(snapshot({ ledger: on.ledger, ipvs: liveService([{ address: "198.51.100.11", weight: 1 }]) }));
    claim(again, "svc", { services: [{ ...svc, scheduler: "wlc" }], keepalived: true, persist: true });
    for (const have of [{ [FILE]: "x" }, {}] as Record<string, string>[]) {
      const k = keepalivedCommands(on.ledger, again.ledger, running, have, false);
      expect(k.after.filter((c) => c.startsWith("ipvsadm -D"))).toEqual([]);
    }
  });
});

describe("keepalived missing", () => {
  test("with installKeepalived false, a missing keepalived fails the operation before anything changes", () => {
    const plan = new Plan(snapshot({ keepalived: undefined }));
    expect(() => plan.op("0", (p) => needKeepalived(p, false))).toThrow(
      "keepalived is not installed and installKeepalived is false: install the keepalived package, or set installKeepalived: true",
    );
    expect(() => plan.op("1", (p) => needKeepalived(p, true))).not.toThrow();
  });

  test("with installKeepalived true, a transaction installs it first (before the config test)", () => {
    const plan = new Plan(snapshot({ keepalived: undefined }));
    claim(plan, "d", { vrrp: [vrrp], keepalived: true, persist: true });
    const k = keepalivedCommands(emptyLedger(), plan.ledger, undefined, {}, false);
    expect(k.before[0]).toContain("DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends keepalived");
    expect(k.after).toContain("systemctl enable --quiet keepalived");
  });
});

test("a failed keepalived install shows apt's last lines (sh, with an apt-get that fails as a host without a mirror does)", () => {
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), "apt-"));
  const lines = ["Reading package lists...", "E: Unable to locate package keepalived"];
  fs.writeFileSync(path.join(bin, "apt-get"), `#!/bin/sh\nprintf '%s\\n' ${lines.map((l) => `'${l}'`).join(" ")}\nexit 100\n`, {
    mode: 0o755,
  });
  const r = spawnSync("sh", ["-c", commands.keepalived.install()], { encoding: "utf8", env: { PATH: `${bin}:/usr/bin:/bin` } });
  expect(r.status).toBe(1);
  expect(r.stderr).toBe(
    "installing keepalived failed (apt-get install keepalived): install it by hand, or check the host reaches its package mirror; apt said:\n" +
      lines.join("\n") +
      "\n",
  );
});

describe("keepalived around a transaction", () => {
  const used = () => {
    const plan = new Plan(snapshot());
    claim(plan, "d", { vrrp: [vrrp], keepalived: true, persist: true });
    return plan;
  };

  test("first use: config test before any change; then our files, the include line, enable, start and the first election", () => {
    const plan = used();
    const k = keepalivedCommands(emptyLedger(), plan.ledger, snapshot().keepalived, {}, false);
    expect(k.before.at(-1)).toMatch(
      /^out=\$\(keepalived --config-test -f \/etc\/keepalived\/pulumi-lvs\.d\.next\.conf 2>&1\) && \[ -z "\$out" \] \|\|/,
    );
    expect(k.after).toEqual([
      "rm -rf /etc/keepalived/pulumi-lvs.d",
      "mv /etc/keepalived/pulumi-lvs.d.next /etc/keepalived/pulumi-lvs.d",
      "rm -f /etc/keepalived/pulumi-lvs.d.next.conf",
      "echo 'include /etc/keepalived/pulumi-lvs.d/*.conf' >> /etc/keepalived/keepalived.conf",
      "systemctl start keepalived",
      // Up to three adverts and 2 s for the election: this director holds the VIP, or another does.
      "i=0; while [ $i -lt 50 ] && ! ip -o addr show dev eth1 | grep -qF ' 198.51.100.100/'; do sleep 0.1; i=$((i + 1)); done",
    ]);
    // A reload keeps the election's result: nothing to wait for.
    const again = new Plan(snapshot({ ledger: plan.ledger }));
    claim(again, "d", { vrrp: [{ ...vrrp, priority: 120 }], keepalived: true, persist: true });
    const live = { ...snapshot().keepalived!, active: true, include: true };
    const k2 = keepalivedCommands(plan.ledger, again.ledger, live, { "/etc/keepalived/pulumi-lvs.d/vrrp-eth1-51.conf": "x" }, false);
    expect(k2.after.at(-1)).toBe("systemctl reload keepalived");
  });

  test("the last user leaves: the include line goes (the file ends as it did), keepalived is stopped as it was found", () => {
    const plan = used();
    const original = { installed: true, enabled: true, active: false, conf: "no-newline" as const };
    plan.ledger.entries[keys.keepalived()].original = original;
    const release = new Plan(snapshot({ ledger: plan.ledger }));
    claim(release, "d", { persist: false });
    const live = { ...original, active: true, conf: "newline" as const, include: true };
    const k = keepalivedCommands(plan.ledger, release.ledger, live, { "/etc/keepalived/pulumi-lvs.d/vrrp-eth1-51.conf": "x" }, false);
    expect(k.before).toEqual([]);
    expect(k.after.join("\n")).toContain("grep -vxF 'include /etc/keepalived/pulumi-lvs.d/*.conf' /etc/keepalived/keepalived.conf");
    expect(k.after.slice(1)).toEqual([
      "if [ -s /etc/keepalived/keepalived.conf ]; then truncate -s -1 /etc/keepalived/keepalived.conf; fi",
      "rm -rf /etc/keepalived/pulumi-lvs.d",
      "systemctl stop keepalived",
    ]);
  });
});

describe("one director with health checks and no VRRP", () => {
  const live = (over: Partial<NonNullable<Snapshot["keepalived"]>> = {}) => ({ ...snapshot().keepalived!, ...over });
  const withService = () => {
    const plan = new Plan(snapshot());
    claim(plan, "svc", { services: [svc], keepalived: true, persist: true });
    return plan;
  };
  const FILE = "/etc/keepalived/pulumi-lvs.d/vs-tcp-198.51.100.100-80.conf";

  test("a service without real servers leaves keepalived alone: no include line, no start (it would have nothing to run)", () => {
    const plan = withService();
    expect(keepalivedCommands(emptyLedger(), plan.ledger, live(), {}, false)).toEqual({ before: [], after: [] });
    // Still not installed: installed with the first real server, which needs it.
    expect(keepalivedCommands(emptyLedger(), plan.ledger, undefined, {}, false)).toEqual({ before: [], after: [] });
  });

  test("its first real server: config test, files, include line, start", () => {
    const s0 = withService();
    const plan = new Plan(snapshot({ ledger: s0.ledger }));
    claim(plan, "a", { dests: [rs("198.51.100.11")], persist: true });
    const k = keepalivedCommands(s0.ledger, plan.ledger, live(), {}, false);
    expect(k.before.join("\n")).toContain("keepalived --config-test");
    expect(k.after.slice(-2)).toEqual([
      "echo 'include /etc/keepalived/pulumi-lvs.d/*.conf' >> /etc/keepalived/keepalived.conf",
      "systemctl start keepalived",
    ]);
  });

  test("its last real server removed: keepalived put back as found (no empty staged set, no chmod of an empty glob)", () => {
    const s0 = withService();
    claim(s0, "a", { dests: [rs("198.51.100.11")], persist: true });
    const release = new Plan(snapshot({ ledger: s0.ledger }));
    claim(release, "a", { persist: false });
    const k = keepalivedCommands(s0.ledger, release.ledger, live({ active: true, include: true }), { [FILE]: "x" }, false);
    expect(k.before).toEqual([]);
    expect(k.after.join("\n")).not.toContain("chmod");
    expect(k.after).toContain("rm -rf /etc/keepalived/pulumi-lvs.d");
    expect(k.after).toContain("systemctl stop keepalived");
    // A keepalived the user ran before is reloaded instead, and never purged while the service holds it.
    const running = clone(release.ledger);
    running.entries[keys.keepalived()].original = { installed: false, enabled: true, active: true, conf: "newline" };
    const k2 = keepalivedCommands(s0.ledger, running, live({ active: true, include: true }), { [FILE]: "x" }, false);
    expect(k2.after).not.toContain("systemctl stop keepalived");
    expect(k2.after.join("\n")).not.toContain("apt-get purge");
  });

  test("a command check alone (script security, no virtual_server yet) is nothing to run either", () => {
    const plan = new Plan(snapshot());
    const command = model.HealthCheck.parse({ type: "command", command: "/usr/local/bin/probe" });
    claim(plan, "svc", { services: [{ ...svc, healthCheck: command }], keepalived: true, persist: true });
    expect(Object.keys(keepalivedFiles(plan.ledger))).toEqual(["00-script-security.conf"]);
    expect(keepalivedCommands(emptyLedger(), plan.ledger, live(), {}, false)).toEqual({ before: [], after: [] });
  });
});

describe("dual-stack VRRP", () => {
  test("IPv4 VIPs in virtual_ipaddress, IPv6 ones as /128 in virtual_ipaddress_excluded (one family per instance)", () => {
    const text = renderVrrp({ ...vrrp, vips: [VIP, "2001:db8:100::100"] });
    expect(text).toContain("    virtual_ipaddress {\n        198.51.100.100/32 dev eth1\n    }\n");
    expect(text).toContain("    virtual_ipaddress_excluded {\n        2001:db8:100::100/128 dev eth1\n    }\n");
  });
  test("IPv6 VIPs only: they are the instance's own addresses, as /128", () => {
    const text = renderVrrp({ ...vrrp, vips: ["2001:db8:100::100"] });
    expect(text).toContain("    virtual_ipaddress {\n        2001:db8:100::100/128 dev eth1\n    }\n");
    expect(text).not.toContain("excluded");
  });
});

describe("parsers and validation", () => {
  test("keepalived state and sync daemons as read from a host", () => {
    expect(parseKeepalivedState("installed\nenabled enabled\nactive inactive\nconf no-newline\n")).toEqual({
      installed: true,
      enabled: true,
      active: false,
      conf: "no-newline",
      include: false,
    });
    expect(parseKeepalivedState("")).toBeUndefined();
    // ipvsadm -L --daemon on a lab director with both daemons, and with none (test/lab/captured).
    expect(parseDaemons(captured("ipvsadm-L-daemon.txt"))).toEqual({
      master: { dev: "eth1", syncId: 51 },
      backup: { dev: "eth1", syncId: 51 },
    });
    expect(parseDaemons(captured("ipvsadm-L-daemon-none.txt"))).toEqual({});
  });

  const service = { connection: { host: "h" }, address: VIP, port: 80 };
  test.each([
    [{ type: "http", path: "/ok\nnotify_up /bin/sh" }, "healthCheck.path"],
    [{ type: "http", path: "status" }, "healthCheck.path"],
    [{ type: "tcp", command: "true" }, "healthCheck.command"],
    [{ type: "command" }, "healthCheck.command"],
    [{ type: "tcp", path: "/" }, "healthCheck.path"],
    [{ type: "ping" }, "healthCheck.type"],
  ])("a bad check %j fails naming %s", (healthCheck, field) => {
    const v = validate(model.VirtualServiceArgs, { ...service, healthCheck });
    expect(v.kind).toBe("invalid");
    expect(v.kind === "invalid" && v.failures.map((f) => f.property)).toContain(field);
  });

  test("a VRRP password that keepalived cannot take is refused without showing it", () => {
    const v = validate(model.DirectorHostArgs, {
      connection: { host: "h" },
      vips: [VIP],
      vrrp: { virtualRouterId: 51, priority: 100, authPass: "has space" },
    });
    expect(v.kind === "invalid" && v.failures).toEqual([expect.objectContaining({ property: "vrrp.authPass" })]);
    expect(JSON.stringify(v)).not.toContain('has space"');
  });
});

describe("a session goes on after a write only when the host is settled", () => {
  const plain = { address: VIP, port: 80, protocol: "tcp" as const, scheduler: "rr" as const };
  test("IPVS rules alone: settled (the read right after sees what the write did)", () => {
    const plan = new Plan(snapshot());
    claim(plan, "svc", { services: [plain], persist: true });
    claim(plan, "a", { dests: [rs("198.51.100.11")], persist: true });
    plan.settle();
    expect(write(plan, snapshot()).settled).toBe(true);
  });
  test("a health-checked service's real server: keepalived applies it on its own, later: not settled", () => {
    const plan = new Plan(snapshot());
    claim(plan, "svc", { services: [svc], keepalived: true, persist: true });
    claim(plan, "a", { dests: [rs("198.51.100.11")], persist: true });
    plan.settle();
    expect(write(plan, snapshot())).toMatchObject({ settled: false, rulesOnly: false });
  });
});
