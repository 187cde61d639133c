import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "shell-quote";
import { RuleChange, ipvs, net, q, rules, snapshotRead, wrap } from "../../provider/remote/commands";
import { SCRIPT_MORE_RULES, sessionCommand } from "../../provider/remote/session-host";

const svc = { address: "198.51.100.100", port: 80, protocol: "tcp" as const };

describe("remote command text", () => {
  test("builds ipvsadm service commands", () => {
    expect(String(ipvs.addService({ ...svc, scheduler: "rr" }))).toBe("ipvsadm -A -t 198.51.100.100\\:80 -s rr");
    expect(
      String(ipvs.editService({ ...svc, protocol: "udp", scheduler: "wrr", persistence: { timeout: 300, netmask: "255.255.255.0" } })),
    ).toBe("ipvsadm -E -u 198.51.100.100\\:80 -s wrr -p 300 -M 255.255.255.0");
    expect(String(ipvs.deleteService(svc))).toBe("ipvsadm -D -t 198.51.100.100\\:80");
  });

  test("builds ipvsadm destination commands with explicit thresholds", () => {
    const d = { address: "198.51.100.11", port: 80, forwarding: "direct" as const, weight: 3 };
    expect(String(ipvs.addDestination(svc, d))).toBe("ipvsadm -a -t 198.51.100.100\\:80 -r 198.51.100.11\\:80 -g -w 3 -x 0 -y 0");
    expect(String(ipvs.editDestination(svc, { ...d, forwarding: "tunnel", upperThreshold: 100, lowerThreshold: 10 }))).toBe(
      "ipvsadm -e -t 198.51.100.100\\:80 -r 198.51.100.11\\:80 -i -w 3 -x 100 -y 10",
    );
    expect(String(ipvs.editDestination(svc, { ...d, forwarding: "masquerade" }))).toContain(" -m ");
    expect(String(ipvs.deleteDestination(svc, d))).toBe("ipvsadm -d -t 198.51.100.100\\:80 -r 198.51.100.11\\:80");
  });

  test("a rule change's ipvsadm -R line is its words unquoted; a word that is not plain has none (it runs as a command)", () => {
    const k = { address: "198.51.100.100", port: 80, protocol: "tcp" as const };
    expect(ipvs.deleteDestination(k, { address: "198.51.100.11", port: 80 }).line).toBe("-d -t 198.51.100.100:80 -r 198.51.100.11:80");
    expect(ipvs.deleteService(k).line).toBe("-D -t 198.51.100.100:80");
    const odd = new RuleChange(["-A", "-t", "198.51.100.100:80", "-s", "r r"]);
    expect(odd.line).toBeUndefined();
    expect(String(odd)).toBe("ipvsadm -A -t 198.51.100.100\\:80 -s 'r r'");
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
    expect(net.writeSysctl("net.ipv4.ip_forward", 1)).toBe("echo 1 > /proc/sys/net/ipv4/ip_forward");
    // A dot inside an interface's name is a slash in the sysctl's key, and stays a dot in its file.
    expect(net.writeSysctl("net.ipv4.conf.eth1/100.rp_filter", 0)).toBe("echo 0 > /proc/sys/net/ipv4/conf/eth1.100/rp_filter");
    expect(net.readSysctls(["net.ipv4.conf.lo.arp_ignore"])).toBe(
      "v=; [ ! -r /proc/sys/net/ipv4/conf/lo/arp_ignore ] || read -r v < /proc/sys/net/ipv4/conf/lo/arp_ignore; printf '%s=%s\\n' net.ipv4.conf.lo.arp_ignore \"$v\"",
    );
    expect(String(ipvs.addService({ ...svc, address: "$(reboot)", scheduler: "rr" }))).toBe("ipvsadm -A -t \\$\\(reboot\\)\\:80 -s rr");
  });

  test("wraps transactions in sh, sudo -n for non-root users, and the host lock with a deadline and its holder", () => {
    const root = wrap("echo hi", { sudo: false, lockTimeout: 7, holder: "stack prod (pid 1 on ci)" });
    expect(root.startsWith("sh -c ")).toBe(true);
    expect(wrap("echo hi", { sudo: true, lockTimeout: 7, holder: "x" }).startsWith("sudo -n sh -c ")).toBe(true);
    const script = parse(root)[2] as string;
    expect(script.split("\n")).toEqual([
      "exec 9>>/run/pulumi-lvs.lock",
      "if ! flock -w 7 9; then",
      "  h=$(cat /run/pulumi-lvs.lock.holder 2>/dev/null)",
      expect.stringContaining("is still held after 7s, by ${h:-a process that does not say who it is"),
      "  exit 75",
      "fi",
      `printf '%s since %s, remote pid %s\\n' 'stack prod (pid 1 on ci)' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" "$$" > /run/pulumi-lvs.lock.holder`,
      "trap 'rm -f /run/pulumi-lvs.lock.holder' EXIT",
      "trap 'exit 129' HUP; trap 'exit 141' PIPE; trap 'exit 143' TERM",
      "echo hi",
    ]);
  });

  test("the lock script, run by sh: gives up after its deadline naming the holder; takes a free lock and records itself, and its record goes however it ends", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lock-"));
    const local = (s: string) => s.replace(/\/run\/pulumi-lvs\.lock/g, `${dir}/lock`);
    const run = (holder: string, body: string) =>
      spawnSync("sh", ["-c", parse(local(wrap(body, { sudo: false, lockTimeout: 1, holder })))[2] as string], { encoding: "utf8" });
    expect(run("first", `cat ${dir}/lock.holder`).stdout).toMatch(/^first since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, remote pid \d+\n$/);
    expect(fs.existsSync(`${dir}/lock.holder`)).toBe(false);
    // A holder that keeps the lock (as a stopped process would): the next one gives up after 1 s.
    const held = spawn("sh", [
      "-c",
      parse(local(wrap("exec sleep 5", { sudo: false, lockTimeout: 1, holder: "stack prod (pid 42 on ci-3)" })))[2] as string,
    ]);
    try {
      spawnSync("sh", ["-c", `i=0; while [ ! -s ${dir}/lock.holder ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done`]);
      const r = run("second", "echo ran");
      expect(r.status).toBe(75);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(
        /is still held after 1s, by stack prod \(pid 42 on ci-3\) since .* UTC, remote pid \d+; retry once it is done/,
      );
    } finally {
      held.kill();
    }
    // Its client gone while it wrote (SIGPIPE), or ended by a signal: the record goes with the lock.
    for (const [body, end] of [
      ["sleep 0.3; while :; do echo out; done", (p: ReturnType<typeof spawn>) => p.stdout!.destroy()],
      ["while :; do sleep 0.1; done", (p: ReturnType<typeof spawn>) => p.kill("SIGTERM")],
    ] as const) {
      const p = spawn("sh", ["-c", parse(local(wrap(body, { sudo: false, lockTimeout: 1, holder: "gone" })))[2] as string]);
      spawnSync("sh", ["-c", `i=0; while [ ! -s ${dir}/lock.holder ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done`]);
      end(p);
      await new Promise((r) => p.on("exit", r));
      expect(fs.existsSync(`${dir}/lock.holder`)).toBe(false);
    }
  });
});

test("the read after a round of rules only: the IPVS table alone (rules and thresholds), read as the whole read reads it", () => {
  const opts = {
    preflight: true,
    keepalived: true,
    sysctls: ["net.ipv4.ip_forward"],
    routes: ["198.51.100.20"],
    files: ["/etc/pulumi-lvs/ipvs.rules"],
    prep: true,
    restoreUnit: true,
  };
  const whole = snapshotRead(opts);
  const rules = snapshotRead({ ...opts, rulesOnly: true });
  const names = (text: string) => [...text.matchAll(/'--- pulumi-lvs section --- (\w+)'/g)].map((m) => m[1]);
  // Our files (the ledger, the intent, the boot files' hashes) are as the round wrote them: not read.
  expect(names(rules)).toEqual(["ipvs", "thresholds"]);
  expect(rules).not.toContain("ledger.json");
  expect(rules).not.toContain("sha256sum");
  const table = rules.slice(rules.indexOf("ipvsadm -S"), rules.lastIndexOf("; fi"));
  expect(whole).toContain(table);
});

describe("a transaction, run by sh as the host runs it", () => {
  const END = "# pulumi-lvs: end of script";
  const MORE = "# pulumi-lvs: end of script, more to come";
  /**
   * Starts the remote half with `read`; the caller writes to its stdin like the client does.
   * `detached`: its shell leads a process group of its own, as sshd starts it (else it is in
   * jest's group, as a command under sudo is in sudo's).
   */
  const start = (read: string, scriptWait?: number, detached = false) => {
    // Its own TMPDIR: what the session leaves there is seen.
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tx-tmp-"));
    const child = spawn("sh", ["-c", sessionCommand(read, { scriptWait })], {
      stdio: ["pipe", "pipe", "pipe"],
      detached,
      env: { ...process.env, TMPDIR: tmp },
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    return { child, exited, out: () => out, err: () => err, tmp };
  };
  const dir = () => fs.mkdtempSync(path.join(os.tmpdir(), "tx-"));
  const poll = async (what: () => boolean, ms: number) => {
    for (const until = Date.now() + ms; Date.now() < until;) {
      if (what()) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return what();
  };

  test("a whole script runs and the session ends though the client keeps stdin open", async () => {
    const t = start("echo read-out");
    t.child.stdin.write(`echo written\n${END}\n`);
    expect(await t.exited).toBe(0);
    expect(t.out()).toBe("read-out\n--- pulumi-lvs transaction ---\nwritten\n");
    t.child.stdin.end();
  });

  test("a read-only session prints its read and the marker, then ends with stdin still open, and runs nothing it is sent", async () => {
    const d = dir();
    const child = spawn("sh", ["-c", sessionCommand("echo read-out", { readOnly: true })], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    // The shell may be gone before this arrives (EPIPE): either way it is never run.
    child.stdin.on("error", () => undefined);
    child.stdin.write(`touch ${d}/ran\n${END}\n`);
    expect(await exited).toBe(0);
    expect(out).toBe("read-out\n--- pulumi-lvs transaction ---\n");
    expect(fs.existsSync(`${d}/ran`)).toBe(false);
    child.stdin.end();
  });

  test("nothing to write (stdin ends empty) runs nothing; a script cut short is not run", async () => {
    const empty = start("true");
    empty.child.stdin.end();
    expect(await empty.exited).toBe(0);
    const d = dir();
    const cut = start("true");
    cut.child.stdin.end(`touch ${d}/ran\n`);
    expect(await cut.exited).toBe(75);
    expect(cut.err()).toContain("the script arrived incomplete; nothing was run");
    expect(fs.existsSync(`${d}/ran`)).toBe(false);
  });

  test.each([
    ["leads its own process group (as sshd starts it)", true],
    ["does not lead a process group (as under sudo)", false],
  ])(
    "the client gone mid-script (its stdin ends), when the shell %s: the session's whole group is ended, nothing after runs",
    async (_, detached) => {
      const d = dir();
      const t = start("true", undefined, detached);
      // The script's own child (sleep) must go too: its end would run the last line.
      t.child.stdin.write(`touch ${d}/started\n(sleep 2; touch ${d}/child-finished) &\nsleep 2\ntouch ${d}/finished\n${END}\n`);
      expect(await poll(() => fs.existsSync(`${d}/started`), 5000)).toBe(true);
      t.child.stdin.end();
      expect(await t.exited).not.toBe(0);
      // Had the script gone on, it would have finished within 2 s: it must not, for 3 s.
      expect(await poll(() => fs.existsSync(`${d}/finished`) || fs.existsSync(`${d}/child-finished`), 3000)).toBe(false);
      // Its temporary files (the script) are gone with it.
      expect(await poll(() => fs.readdirSync(t.tmp).length === 0, 3000)).toBe(true);
    },
  );

  test("rounds with more to come: each runs whole, its end is printed, the host reads again under the same session, and the last round ends it", async () => {
    const d = dir();
    const t = start(`echo "read $(ls ${d} | wc -l)"`);
    expect(await poll(() => t.out().endsWith("--- pulumi-lvs transaction ---\n"), 5000)).toBe(true);
    t.child.stdin.write(`touch ${d}/one\necho first\n${MORE}\n`);
    expect(await poll(() => t.out().split("--- pulumi-lvs transaction ---\n").length === 3, 5000)).toBe(true);
    t.child.stdin.write(`touch ${d}/two\necho second\n${END}\n`);
    expect(await t.exited).toBe(0);
    expect(t.out()).toBe(
      "read 0\n--- pulumi-lvs transaction ---\nfirst\n--- pulumi-lvs round done ---\nread 1\n--- pulumi-lvs transaction ---\nsecond\n",
    );
    t.child.stdin.end();
  });

  test("after a round of rules only the host runs the reread, not the read; after a round with more to come, the read again", async () => {
    const child = spawn("sh", ["-c", sessionCommand("echo full", { reread: "echo rules" })], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    const reads = () => out.split("--- pulumi-lvs transaction ---\n").length - 1;
    expect(await poll(() => reads() === 1, 5000)).toBe(true);
    child.stdin.write(`echo one\n${SCRIPT_MORE_RULES}\n`);
    expect(await poll(() => reads() === 2, 5000)).toBe(true);
    child.stdin.write(`echo two\n${MORE}\n`);
    expect(await poll(() => reads() === 3, 5000)).toBe(true);
    // Stdin stays open until the session ends: a client gone mid-script (stdin ended) ends its group.
    child.stdin.write(`echo three\n${END}\n`);
    expect(await exited).toBe(0);
    child.stdin.end();
    const round = "--- pulumi-lvs round done ---";
    const tx = "--- pulumi-lvs transaction ---";
    expect(out).toBe(`full\n${tx}\none\n${round}\nrules\n${tx}\ntwo\n${round}\nfull\n${tx}\nthree\n`);
  });

  test("a session closed after a round with more to come ends cleanly; a failed round ends it with the script's status", async () => {
    const t = start("true");
    t.child.stdin.write(`echo one\n${MORE}\n`);
    expect(await poll(() => t.out().includes("--- pulumi-lvs round done ---"), 5000)).toBe(true);
    t.child.stdin.end();
    expect(await t.exited).toBe(0);
    const d = dir();
    const failed = start("true");
    failed.child.stdin.write(`false\n${MORE}\n`);
    expect(await failed.exited).toBe(1);
    expect(failed.out()).not.toContain("--- pulumi-lvs round done ---");
    failed.child.stdin.end(`touch ${d}/ran\n${END}\n`);
    expect(fs.existsSync(`${d}/ran`)).toBe(false);
  });

  /** Whether any process of the group led by `pid` is left. */
  const groupAlive = (pid: number) => {
    try {
      process.kill(-pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  test.each([
    ["its last round ran", (t: ReturnType<typeof start>) => t.child.stdin.write(`echo one\n${END}\n`)],
    ["a hang-up (its client gone while it waited)", (t: ReturnType<typeof start>) => t.child.kill("SIGHUP")],
  ])("when the session ends (%s), no process of it is left (its timer included) and no temporary file", async (_, end) => {
    // A short wait: the timer's period is 1 s, so its last `sleep` is gone within a second.
    const t = start("true", 4, true);
    expect(await poll(() => t.out().includes("--- pulumi-lvs transaction ---"), 5000)).toBe(true);
    end(t);
    await t.exited;
    expect(await poll(() => !groupAlive(t.child.pid!), 3000)).toBe(true);
    expect(fs.readdirSync(t.tmp)).toEqual([]);
    t.child.stdin.end();
  });

  test("a client whose link froze (stdin open, nothing sent): after the wait nothing runs and the session ends", async () => {
    const t = start("echo read-out", 1);
    expect(await t.exited).toBe(75);
    expect(t.err()).toContain("no script came within 1s of the read");
    t.child.stdin.end();
  });
});
