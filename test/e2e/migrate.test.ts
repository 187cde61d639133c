// Migrating a hand-built cluster (issue 19), through the real CLI, plugin and YAML language host
// on the lab: the walkthrough's scripts (translated to `ip`) build the cluster by hand while a
// client requests the VIP every 0.2 s; `pulumi-lvs scan` writes the program; its first `up`
// adopts every object without a failed request and leaves every kernel byte-identical; preview
// is clean; a reboot of every host brings the service back with no Pulumi run; a weight change
// applies in place; destroy removes everything (adopt: own), leaving fresh hosts. Built by hand
// again and scanned with --inline, the pool is one resource, adopted and destroyed the same way.
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import {
  REPO,
  Stack,
  changes,
  expectAlternating,
  hostState,
  labAsync,
  labHost,
  labStatus,
  onHost,
  requestsInBackground,
  waitFor,
} from "./harness";

jest.setTimeout(30 * 60_000);

const lab = labStatus();
const VIP = lab.vip;
const HOSTS = ["director", "rs-a", "rs-b"];
const [director, rsA, rsB] = HOSTS.map((n) => labHost(lab, n));
const work = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-migrate-"));
const stack = new Stack(work, "migrate");
/** Step 7's: the same cluster scanned with --inline. */
const inlineWork = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-migrate-inline-"));
const inlineStack = new Stack(inlineWork, "migrate-inline");

/** The walkthrough's lvs_dr.sh and lvs_dr_rs.sh, with `ip` for ifconfig and route. */
const HAND_BUILT: Record<string, string> = {
  director: [
    `ip addr add ${VIP}/32 brd ${VIP} dev eth1 label eth1:0`,
    `ip route add ${VIP} dev eth1`,
    `ipvsadm -A -t ${VIP}:80 -s rr`,
    `ipvsadm -a -t ${VIP}:80 -r ${rsA.lanAddress}:80 -g -w 1`,
    `ipvsadm -a -t ${VIP}:80 -r ${rsB.lanAddress}:80 -g -w 1`,
  ].join(" && "),
  ...Object.fromEntries(
    ["rs-a", "rs-b"].map((h) => [
      h,
      `ip addr add ${VIP}/32 brd ${VIP} dev lo label lo:0 && ` +
        "sysctl -qw net.ipv4.conf.lo.arp_ignore=1 net.ipv4.conf.lo.arp_announce=2 net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2",
    ]),
  ),
};
/** What the kernel has: the byte-for-byte comparison. */
const KERNEL = [
  "ipvsadm -S -n",
  "ip -o addr",
  "ip route; ip -6 route",
  "sysctl net.ipv4.conf.lo.arp_ignore net.ipv4.conf.lo.arp_announce net.ipv4.conf.all.arp_ignore net.ipv4.conf.all.arp_announce net.ipv4.ip_forward",
].join("; echo ---; ");
const kernels = () => Object.fromEntries(HOSTS.map((h) => [h, onHost(h, KERNEL)]));

let fresh: Record<string, string>;
let handBuilt: Record<string, string>;
/** The client requesting the VIP every 0.2 s from before the scan until after the first preview: each status code. */
let probe: ReturnType<typeof requestsInBackground> | undefined;
beforeAll(async () => {
  fresh = hostState(HOSTS);
  for (const [h, script] of Object.entries(HAND_BUILT)) onHost(h, script);
  handBuilt = kernels();
  expectAlternating(VIP);
  probe = requestsInBackground(VIP, 80, "%{http_code}");
  fs.writeFileSync(path.join(work, "known_hosts"), knownHosts());
});
afterAll(async () => {
  await probe?.stop().catch(() => undefined);
  for (const s of [stack, inlineStack]) {
    await s.run("destroy", "--yes", "--skip-preview");
    await s.remove();
  }
  // Whatever a failed step left of the hand-built cluster goes, so the next file finds fresh hosts.
  onHost(
    "director",
    `ipvsadm -D -t ${VIP}:80 2>/dev/null; ip addr del ${VIP}/32 dev eth1 2>/dev/null; ip route del ${VIP} dev eth1 2>/dev/null; true`,
  );
});

/** Each host's key as the lab's sshd presents it, as known_hosts lines for 127.0.0.1:PORT. */
function knownHosts(): string {
  return [director, rsA, rsB]
    .map(
      (h) =>
        `[${h.sshHost}]:${h.sshPort} ${onHost(h.name, "cat /etc/ssh/ssh_host_ed25519_key.pub").trim().split(" ").slice(0, 2).join(" ")}`,
    )
    .join("\n");
}

async function scan(...extra: string[]): Promise<{ stdout: string; stderr: string }> {
  const target = (h: typeof director) => `root@${h.sshHost}:${h.sshPort}`;
  return promisify(execFile)(
    path.join(REPO, "bin/provider/cli/main.js"),
    [
      "scan",
      target(director),
      "--backend",
      target(rsA),
      "--backend",
      target(rsB),
      "--key",
      director.keyPath,
      "--known-hosts",
      path.join(work, "known_hosts"),
      ...extra,
    ],
    { encoding: "utf8", timeout: 5 * 60_000 },
  );
}

const NAMES = {
  director: "DirectorHost",
  "backend-198-51-100-11": "DrRealServerHost",
  "backend-198-51-100-12": "DrRealServerHost",
  "tcp-198-51-100-100-80": "VirtualService",
  "tcp-198-51-100-100-80-198-51-100-11": "RealServer",
  "tcp-198-51-100-100-80-198-51-100-12": "RealServer",
};

test("1. pulumi-lvs scan writes the program of the hand-built cluster, with nothing left untranslated, and changes nothing", async () => {
  // The YAML program, and the scan as data (the TypeScript form is type-checked by test/unit/scan.test.ts).
  const [, { stdout: json }] = await Promise.all([
    scan("--format", "yaml", "--name", "migrated", "--out", path.join(work, "Pulumi.yaml")),
    scan("--format", "json"),
  ]);
  const found = JSON.parse(json) as { resources: { type: string; name: string; args: Record<string, unknown> }[]; notTranslated: string[] };
  expect(found.notTranslated).toEqual([]);
  expect(Object.fromEntries(found.resources.map((r) => [r.name, r.type]))).toEqual(NAMES);
  expect(found.resources.find((r) => r.name === "director")!.args).toEqual({ vips: [VIP], interface: "eth1" });
  expect(kernels()).toEqual(handBuilt);
  await stack.init();
});

test("2. its first up adopts every object: no kernel changes, no request fails, every hold recorded as owned", async () => {
  const up = await stack.up();
  expect(changes(up)).toEqual(Object.fromEntries(Object.keys(NAMES).map((n) => [n, "create"])));
  expect(kernels()).toEqual(handBuilt);
  for (const n of ["tcp-198-51-100-100-80", "tcp-198-51-100-100-80-198-51-100-11", "tcp-198-51-100-100-80-198-51-100-12"])
    expect(await stack.outputsOf(n)).toMatchObject({ adopted: true, adopt: "own" });
  for (const h of HOSTS) {
    const ledger = JSON.parse(onHost(h, "cat /var/lib/pulumi-lvs/ledger.json")) as {
      entries: Record<string, { adopted?: string; original: unknown }>;
    };
    const entries = Object.entries(ledger.entries);
    expect(entries.length).toBeGreaterThan(0);
    for (const [key, e] of entries) expect([key, e.adopted]).toEqual([key, "own"]);
  }
  // Boot persistence, which the hand scripts never had.
  for (const h of HOSTS) expect(onHost(h, "systemctl is-enabled pulumi-lvs-restore.service").trim()).toBe("enabled");
});

test("3. preview is clean, and not one of the client's requests failed", async () => {
  await stack.must("preview", "--expect-no-changes");
  const codes = await probe!.stop();
  probe = undefined;
  expect(codes.length).toBeGreaterThan(20);
  expect(codes.filter((c) => c !== "200")).toEqual([]);
});

test("4. after rebooting all three hosts, the service is back with no pulumi run", async () => {
  await Promise.all(HOSTS.map((h) => labAsync("reboot", h)));
  await waitFor("the VIP to answer after the reboot", 60, () =>
    onHost("client", `curl -s --max-time 2 http://${VIP}/`, { allowFail: true }) ? true : undefined,
  );
  expectAlternating(VIP);
  expect(onHost("director", "ipvsadm -S -n")).toBe(handBuilt.director.split("\n---\n")[0] + "\n");
  await stack.must("preview", "--expect-no-changes");
});

test("5. a weight change through the program applies in place", async () => {
  const file = path.join(work, "Pulumi.yaml");
  const text = fs.readFileSync(file, "utf8");
  const at = text.indexOf("  tcp-198-51-100-100-80-198-51-100-12:");
  fs.writeFileSync(file, text.slice(0, at) + text.slice(at).replace("weight: 1", "weight: 2"));
  expect(changes(await stack.up())).toEqual({ "tcp-198-51-100-100-80-198-51-100-12": "update" });
  expect(onHost("director", "ipvsadm -S -n")).toContain(`-a -t ${VIP}:80 -r ${rsB.lanAddress}:80 -g -w 2`);
});

test("6. destroy removes everything the hand scripts made (adopt: own): the hosts are as fresh machines", async () => {
  const down = await stack.destroy();
  expect(Object.values(changes(down)).every((c) => c === "delete")).toBe(true);
  expect(hostState(HOSTS)).toEqual(fresh);
});

test("7. built again by hand and scanned with --inline: the pool is one resource, its first up adopts it all unchanged, destroy leaves fresh hosts", async () => {
  for (const [h, script] of Object.entries(HAND_BUILT)) onHost(h, script);
  expect(kernels()).toEqual(handBuilt);
  await scan("--format", "yaml", "--inline", "--name", "migrated", "--out", path.join(inlineWork, "Pulumi.yaml"));
  await inlineStack.init();
  const service = "tcp-198-51-100-100-80";
  expect(changes(await inlineStack.up())).toEqual(
    Object.fromEntries(
      Object.keys(NAMES)
        .filter((n) => NAMES[n as keyof typeof NAMES] !== "RealServer")
        .map((n) => [n, "create"]),
    ),
  );
  expect(kernels()).toEqual(handBuilt);
  expect(await inlineStack.outputsOf(service)).toMatchObject({
    adopted: true,
    adopt: "own",
    realServers: [
      { address: rsA.lanAddress, weight: 1 },
      { address: rsB.lanAddress, weight: 1 },
    ],
  });
  const ledger = JSON.parse(onHost("director", "cat /var/lib/pulumi-lvs/ledger.json")) as { entries: Record<string, { adopted?: string }> };
  const dests = Object.entries(ledger.entries)
    .filter(([key]) => key.startsWith("dest "))
    .sort(([a], [b]) => a.localeCompare(b));
  expect(dests.map(([key, e]) => [key, e.adopted])).toEqual([
    [`dest tcp/${VIP}:80 ${rsA.lanAddress}:80`, "own"],
    [`dest tcp/${VIP}:80 ${rsB.lanAddress}:80`, "own"],
  ]);
  await inlineStack.must("preview", "--expect-no-changes");
  const down = await inlineStack.destroy();
  expect(Object.values(changes(down)).every((c) => c === "delete")).toBe(true);
  expect(hostState(HOSTS)).toEqual(fresh);
});
