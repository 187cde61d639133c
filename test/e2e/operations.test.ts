// Production operations, proven on the lab through the real pulumi CLI: reboot
// persistence, graceful drain, jump hosts and sudo, hosts that boot late or never,
// host-key changes, and composing with a resource that provisions the VM.
import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO, Stack, changes, conn, labAsync, labCli, labHost, labStatus, onHost, requestsFromClient } from "./harness";

jest.setTimeout(20 * 60_000);

const lab = labStatus();
const VIP = lab.vip;
const [director, rsA, rsB, client] = ["director", "rs-a", "rs-b", "client"].map((n) => labHost(lab, n));
type H = typeof director;
const stack = new Stack(path.join(REPO, "test/e2e/program"), "operations");
const declare = stack.declare.bind(stack);

/** The seed topology as separate resources (director, two backends, one service). */
const seed = (extra: Record<string, unknown>[] = []) => [
  { type: "DirectorHost", name: "director", args: { connection: conn(director), vips: [VIP] } },
  { type: "DrRealServerHost", name: "host-a", args: { connection: conn(rsA), vips: [VIP] } },
  { type: "DrRealServerHost", name: "host-b", args: { connection: conn(rsB), vips: [VIP] } },
  { type: "VirtualService", name: "web", args: { connection: conn(director), address: VIP, port: 80, scheduler: "rr" } },
  { type: "RealServer", name: "web-a", args: { service: "web", address: rsA.lanAddress, upperThreshold: 1000, lowerThreshold: 10 } },
  { type: "RealServer", name: "web-b", args: { service: "web", address: rsB.lanAddress } },
  ...extra,
];

beforeAll(() => stack.init());
afterAll(async () => {
  await stack.run("destroy", "--yes", "--skip-preview");
  await stack.remove();
  labCli("up"); // restarts any VM a test stopped
});

describe("idempotency", () => {
  test("an existing service with other settings is refused naming both; an identical one is adopted and outlives its resource", async () => {
    onHost("director", `ipvsadm -A -t ${VIP}:7000 -s wlc`);
    const svc = (scheduler: string) => ({
      type: "VirtualService",
      name: "existing",
      args: { connection: conn(director), address: VIP, port: 7000, scheduler },
    });
    declare(svc("rr"));
    const r = await stack.run("up", "--yes", "--skip-preview");
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(new RegExp(`tcp/${VIP.replace(/\./g, "\\.")}:7000 already exists with scheduler wlc.*declares scheduler rr`));
    expect(onHost("director", "ipvsadm -S -n")).toContain(`-A -t ${VIP}:7000 -s wlc`);
    declare(svc("wlc"));
    await stack.up();
    expect(await stack.exportState()).toMatch(/"adopted": true/);
    declare();
    await stack.up();
    // It was there before pulumi-lvs: removing the resource that adopted it leaves it alone.
    expect(onHost("director", "ipvsadm -S -n")).toContain(`-A -t ${VIP}:7000 -s wlc`);
    onHost("director", `ipvsadm -D -t ${VIP}:7000`);
  });
});

describe("reboot persistence", () => {
  test("after a reboot of the director and both backends, traffic alternates again with no pulumi run, and preview shows no changes", async () => {
    declare(...seed());
    await stack.up();
    await Promise.all(["director", "rs-a", "rs-b"].map((h) => labAsync("reboot", h)));
    const replies = requestsFromClient(VIP, 6);
    expect(replies.filter((r) => r.endsWith("A.")).length).toBe(3);
    expect(replies.filter((r) => r.endsWith("B.")).length).toBe(3);
    expect(onHost("director", `ipvsadm -L -n --thresholds -t ${VIP}:80`)).toMatch(new RegExp(`${rsA.lanAddress}:80\\s+1000\\s+10\\s`));
    expect(onHost("director", "systemctl is-active pulumi-lvs-restore.service").trim()).toBe("active");
    await stack.must("preview", "--expect-no-changes");
  });

  test("a boot rule that cannot be replayed fails the restore unit, naming the line, and the rest is still restored", async () => {
    const RULES = "/etc/pulumi-lvs/ipvs.rules";
    const bad = `-a -t ${VIP}:80 -r ${rsA.lanAddress}:80 -g -w 1 --no-such-option`;
    onHost("director", `cp ${RULES} /tmp/ipvs.rules.good; echo '${bad}' >> ${RULES}`);
    try {
      // As at boot, but over the live table: what is there already is not a failure.
      onHost("director", `ipvsadm -d -t ${VIP}:80 -r ${rsB.lanAddress}:80; systemctl restart pulumi-lvs-restore.service || true`);
      expect(onHost("director", "systemctl is-failed pulumi-lvs-restore.service || true").trim()).toBe("failed");
      expect(onHost("director", "journalctl -b -u pulumi-lvs-restore.service -o cat")).toContain(`pulumi-lvs: ipvsadm ${bad} failed`);
      expect(onHost("director", "ipvsadm -S -n")).toContain(`-a -t ${VIP}:80 -r ${rsB.lanAddress}:80 -g -w 1`);
      // refresh reports the failed unit as drift of the director.
      await stack.refresh();
      expect((await stack.outputsOf("director")).drift).toEqual([
        "the boot restore unit pulumi-lvs-restore.service failed (`systemctl status pulumi-lvs-restore.service` names the line); up runs it again",
      ]);
    } finally {
      onHost("director", `cp /tmp/ipvs.rules.good ${RULES}`);
    }
    // The cause gone, up runs the unit again: it is healthy, and refresh finds nothing more.
    expect(changes(await stack.up())).toMatchObject({ director: "update" });
    expect(onHost("director", "systemctl is-active pulumi-lvs-restore.service").trim()).toBe("active");
    await stack.refresh();
    expect((await stack.outputsOf("director")).drift).toEqual([]);
  });
});

describe("graceful drain", () => {
  // A tiny TCP server on both backends (busybox nc, a process per connection): "long" is
  // answered after 25 s (well after `pulumi up` has started on a loaded machine), anything
  // else at once, each with the backend's letter.
  const startServer = (h: H, page: string) =>
    onHost(
      h.name,
      `printf '#!/bin/sh\\nread line\\n[ "$line" = long ] && sleep 25\\necho "${page} $line"\\n' > /run/lvs-slow.sh && chmod +x /run/lvs-slow.sh && ` +
        `(nohup busybox nc -ll -p 9000 -e sh /run/lvs-slow.sh >/dev/null 2>&1 &)`,
    ); // /run is noexec: run it with sh
  const slow = (extra: Record<string, unknown>[]) =>
    seed([
      { type: "VirtualService", name: "slow", args: { connection: conn(director), address: VIP, port: 9000, scheduler: "rr" } },
      ...extra,
    ]);
  const slowRs = (h: H, name: string) => ({ type: "RealServer", name, args: { service: "slow", address: h.lanAddress, drainTimeout: 60 } });

  test("removing a backend sets weight 0, lets its open connection finish, sends new ones elsewhere, then deletes it", async () => {
    declare(...slow([slowRs(rsA, "slow-a"), slowRs(rsB, "slow-b")]));
    await stack.up();
    startServer(rsA, "A");
    startServer(rsB, "B");
    onHost(
      "client",
      `rm -f /tmp/long.out; (nohup sh -c '(echo long; sleep 40) | busybox nc ${VIP} 9000 > /tmp/long.out 2>&1' >/dev/null 2>&1 &)`,
    );
    // Which backend holds the long connection?
    let busy: H | undefined;
    for (let i = 0; i < 20 && !busy; i++) {
      const table = onHost("director", `ipvsadm -L -n -t ${VIP}:9000`);
      busy = [rsA, rsB].find((h) => new RegExp(`${h.lanAddress}:9000\\s+Route\\s+\\d+\\s+1\\s`).test(table));
      if (!busy) await new Promise((r) => setTimeout(r, 500));
    }
    if (!busy) throw new Error("the long connection did not show up as active on any backend");
    const other = busy === rsA ? rsB : rsA;
    const [busyPage, otherPage] = busy === rsA ? ["A", "B"] : ["B", "A"];

    declare(...slow([slowRs(other, `slow-${otherPage.toLowerCase()}`)]));
    const up = stack.up();
    // Wait until the drain has set weight 0, then open new connections: all must go elsewhere.
    let quiesced = false;
    const short: string[] = [];
    try {
      for (let i = 0; i < 120 && !quiesced; i++) {
        quiesced = onHost("director", "ipvsadm -S -n").includes(`-a -t ${VIP}:9000 -r ${busy.lanAddress}:9000 -g -w 0`);
        if (!quiesced) await new Promise((r) => setTimeout(r, 250));
      }
      for (let i = 0; i < 3; i++) short.push(onHost("client", `(echo short; sleep 2) | busybox nc -w 5 ${VIP} 9000`).trim());
    } finally {
      await up.catch(() => undefined); // never leave the stack locked for the next test
    }
    const r = await up;
    expect(quiesced).toBe(true);
    expect(short).toEqual(Array(3).fill(`${otherPage} short`));
    expect(r.output).toMatch(/draining .*weight 0, 1 active connection/);
    expect(r.output).toMatch(/drained/);
    expect(onHost("client", "cat /tmp/long.out").trim()).toBe(`${busyPage} long`);
    expect(onHost("director", "ipvsadm -S -n")).not.toContain(`${busy.lanAddress}:9000`);
  });
});

describe("reaching hosts", () => {
  test("the director through rs-a as a jump host, as the non-root sudo user", async () => {
    const viaJump = {
      host: director.lanAddress,
      port: 22,
      user: director.sudoUser,
      privateKeyPath: director.keyPath,
      proxy: conn(rsA, { user: rsA.sudoUser }),
    };
    const forwardBefore = onHost("director", "sysctl -n net.ipv4.ip_forward").trim();
    declare(
      { type: "DirectorHost", name: "jump-director", args: { connection: viaJump, vips: ["198.51.100.106"], ipForward: true } },
      { type: "VirtualService", name: "jump", args: { connection: viaJump, address: VIP, port: 8443, scheduler: "wlc" } },
      { type: "RealServer", name: "jump-a", args: { service: "jump", address: rsA.lanAddress, weight: 7 } },
    );
    await stack.up();
    expect(onHost("director", "ipvsadm -S -n")).toContain(`-a -t ${VIP}:8443 -r ${rsA.lanAddress}:8443 -g -w 7`);
    expect(onHost("director", "ip -o -4 addr show dev eth1")).toContain("198.51.100.106/32");
    expect(onHost("director", "sysctl -n net.ipv4.ip_forward").trim()).toBe("1");
    // sshd on the director saw the ops user arrive from rs-a's LAN address, not from the host.
    expect(
      onHost(
        "director",
        `journalctl -u ssh --no-pager | grep 'Accepted publickey for ${director.sudoUser} from ${rsA.lanAddress}' | wc -l`,
      ).trim(),
    ).not.toBe("0");
    await stack.destroy();
    expect(onHost("director", "ipvsadm -S -n")).not.toContain(`:8443`);
    expect(onHost("director", "ip -o -4 addr show dev eth1")).not.toContain("198.51.100.106");
    expect(onHost("director", "sysctl -n net.ipv4.ip_forward").trim()).toBe(forwardBefore);
  });

  test("authenticates through an ssh-agent (agentSocketPath), with no key in the program", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-agent-"));
    const sock = path.join(dir, "agent.sock");
    const agent = spawn("ssh-agent", ["-D", "-a", sock], { stdio: "ignore" });
    try {
      for (let i = 0; i < 50 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 100));
      execFileSync("ssh-add", [rsA.keyPath], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: "ignore" });
      declare({
        type: "DrRealServerHost",
        name: "agent",
        args: { connection: { host: rsA.sshHost, port: rsA.sshPort, user: "root", agentSocketPath: sock }, vips: ["198.51.100.105"] },
      });
      await stack.up();
      expect(onHost("rs-a", "ip -o addr show dev lo")).toContain("198.51.100.105/32");
      declare();
      await stack.up();
    } finally {
      agent.kill(); // the pid we started
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a user whose sudo wants a password gets a clear error", async () => {
    declare({
      type: "DrRealServerHost",
      name: "pw",
      args: { connection: conn(rsB, { user: rsB.passwordSudoUser }), vips: ["198.51.100.101"] },
    });
    const r = await stack.run("up", "--yes", "--skip-preview");
    expect(r.code).not.toBe(0);
    expect(r.output).toContain(`${rsB.passwordSudoUser}@127.0.0.1:${rsB.sshPort}: sudo wants a password`);
    expect(onHost("rs-b", "ip -o addr show dev lo")).not.toContain("198.51.100.101");
  });

  test("an unreachable host fails with user@host:port and the cause, without hanging", async () => {
    declare({
      type: "DrRealServerHost",
      name: "nowhere",
      args: {
        connection: { host: "127.0.0.1", port: 1, user: "root", privateKeyPath: rsA.keyPath, dialErrorLimit: 2, perDialTimeout: 2 },
        vips: ["198.51.100.101"],
      },
    });
    const r = await stack.run("up", "--yes", "--skip-preview");
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/root@127\.0\.0\.1:1: cannot connect after 2 attempt\(s\): .*ECONNREFUSED/);
  });

  test("a host that boots after pulumi up started is waited for, then configured", async () => {
    await labAsync("stop", "client");
    await labAsync("start", "client", "--delay", "20");
    declare({
      type: "DrRealServerHost",
      name: "late",
      args: { connection: conn(client, { dialErrorLimit: 60, perDialTimeout: 10 }), vips: ["198.51.100.102"] },
    });
    const r = await stack.up();
    expect(r.output).toMatch(/not reachable yet \(attempt 1\//);
    expect(onHost("client", "ip -o addr show dev lo")).toContain("198.51.100.102/32");
    declare();
    await stack.up();
    expect(onHost("client", "ip -o addr show dev lo")).not.toContain("198.51.100.102");
  });
});

describe("host identity", () => {
  test("a changed host key is refused with both fingerprints and nothing runs; pinning the new key accepts it", async () => {
    const host = (extra: Record<string, unknown>) => ({
      type: "DrRealServerHost",
      name: "keyed",
      args: { connection: conn(rsB, extra), vips: ["198.51.100.103"], arpIgnore: 1 },
    });
    declare(host({}));
    await stack.up();
    labCli("rotate-hostkey", "rs-b");
    declare({ ...host({}), args: { ...host({}).args, arpIgnore: 2 } });
    const r = await stack.run("up", "--yes", "--skip-preview");
    expect(r.code).not.toBe(0);
    const m = r.output.match(/host key changed: recorded in state (SHA256:\S+), host presented (SHA256:[A-Za-z0-9+/]+)/);
    expect(m).not.toBeNull();
    expect(m![1]).not.toBe(m![2]);
    expect(r.output).toContain("Nothing was run");
    expect(onHost("rs-b", "sysctl -n net.ipv4.conf.all.arp_ignore").trim()).toBe("1");
    declare({ ...host({ hostKey: m![2] }), args: { ...host({ hostKey: m![2] }).args, arpIgnore: 2 } });
    await stack.up();
    expect(onHost("rs-b", "sysctl -n net.ipv4.conf.all.arp_ignore").trim()).toBe("2");
    declare();
    await stack.up();
    expect(onHost("rs-b", "ip -o addr show dev lo")).not.toContain("198.51.100.103");
  });
});

describe("composing with VM provisioning", () => {
  test("a host whose address comes from another resource's outputs: unknown at preview, configured at up", async () => {
    await labAsync("stop", "client");
    declare(
      { type: "LabVm", name: "vm", args: { host: "client" } },
      {
        type: "DrRealServerHost",
        name: "on-vm",
        args: { connection: { labVm: "vm", user: "root", privateKeyPath: client.keyPath, dialErrorLimit: 30 }, vips: ["198.51.100.104"] },
      },
    );
    const p = await stack.preview();
    // The VM's address is unknown until it exists: the preview still plans the resource on it.
    expect(changes(p)).toEqual({ vm: "create", "on-vm": "create" });
    await stack.up();
    expect(onHost("client", "ip -o addr show dev lo")).toContain("198.51.100.104/32");
    declare();
    await stack.up();
  });
});
