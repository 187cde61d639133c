// Ownership under change, through the real CLI on the lab, as explicit ordered steps: a rename
// without an alias and a move into a component hand objects over with no failed request; an
// interface change moves the VIP under load; a script that fails half-way is finished by the
// next `up`; one operation of a batch refused by the kernel fails alone while the others stay
// applied (no blinking) under load; a rebuilt director (new host key, empty) is recovered by
// pinning its key; a VIP change keeps the old VIP serving until its backend drained; destroy
// leaves no trace.
import * as path from "path";
import {
  REPO,
  RunResult,
  Stack,
  changes,
  conn,
  expectAlternating,
  hostState,
  labCli,
  labHost,
  labStatus,
  onHost,
  requestsInBackground,
} from "./harness";

jest.setTimeout(30 * 60_000);

const lab = labStatus();
const VIP = lab.vip;
const VIP2 = "198.51.100.108";
const EXTRA = "198.51.100.109";
const [director, rsA, rsB] = ["director", "rs-a", "rs-b"].map((n) => labHost(lab, n));
const HOSTS = ["director", "rs-a", "rs-b"];
const stack = new Stack(path.join(REPO, "test/e2e/program"), "ownership");
const declare = stack.declare.bind(stack);

/** The seed topology as single resources, optionally inside a component and with a pinned director key. */
const seed = (o: { parent?: string; iface?: string; directorKey?: string } = {}) => {
  const d = conn(director, o.directorKey ? { hostKey: o.directorKey } : {});
  const p = o.parent ? { parent: o.parent } : {};
  return [
    ...(o.parent ? [{ type: "Group", name: o.parent, args: {} }] : []),
    { type: "DirectorHost", name: "m-director", args: { connection: d, vips: [VIP], interface: o.iface ?? "eth1" }, ...p },
    { type: "DrRealServerHost", name: "m-host-a", args: { connection: conn(rsA), vips: [VIP] }, ...p },
    { type: "DrRealServerHost", name: "m-host-b", args: { connection: conn(rsB), vips: [VIP] }, ...p },
    { type: "VirtualService", name: "m-web", args: { connection: d, address: VIP, port: 80, scheduler: "rr" }, ...p },
    { type: "RealServer", name: "m-web-a", args: { service: "m-web", address: rsA.lanAddress }, ...p },
    { type: "RealServer", name: "m-web-b", args: { service: "m-web", address: rsB.lanAddress }, ...p },
  ];
};

/** Requests from the client to vip:port every 0.2 s in the background while `during` runs; returns the replies. */
async function underLoad(vip: string, port: number, during: () => Promise<unknown>): Promise<string[]> {
  const requests = requestsInBackground(vip, port);
  let replies: string[] = [];
  try {
    await during();
  } finally {
    replies = await requests.stop();
  }
  return replies;
}
const failures = (replies: string[]) => replies.filter((r) => !r.startsWith("This is test page"));

let before: Record<string, string>;
/** The director's key after its rebuild (step 6), pinned from then on. */
let directorKey: string | undefined;
beforeAll(async () => {
  // A second interface on the director's LAN (macvlan), to move the VIP to.
  onHost(
    "director",
    "ip link show lan2 >/dev/null 2>&1 || { ip link add lan2 link eth1 type macvlan mode bridge && ip link set lan2 up; }",
  );
  before = hostState(HOSTS);
  await stack.init();
});
afterAll(async () => {
  await stack.run("destroy", "--yes", "--skip-preview");
  await stack.remove();
  onHost("director", "ip link del lan2", { allowFail: true });
  labCli("up");
});

test("1. a rename without an alias (a backend gains `name:`) hands everything over: no failed request", async () => {
  const cluster = (named: boolean) => ({
    type: "LvsDrCluster",
    name: "ren",
    args: {
      director: conn(director),
      vip: VIP,
      port: 80,
      scheduler: "rr",
      backends: [rsA, rsB].map((h, i) => ({ ...(named ? { name: "ab"[i] } : {}), address: h.lanAddress, connection: conn(h) })),
    },
  });
  declare(cluster(false));
  await stack.up();
  expectAlternating(VIP);
  declare(cluster(true));
  const replies = await underLoad(VIP, 80, () => stack.up());
  expect(replies.length).toBeGreaterThan(5);
  expect(failures(replies)).toEqual([]);
  expectAlternating(VIP);
  await stack.refresh();
  await stack.must("preview", "--expect-no-changes");
  expect(onHost("director", "ipvsadm -S -n")).toContain(`-a -t ${VIP}:80 -r ${rsA.lanAddress}:80 -g -w 1`);
});

test("2. moving resources into a component hands everything over: no failed request", async () => {
  declare(...seed());
  await underLoad(VIP, 80, () => stack.up()); // the cluster's resources hand over to these
  expectAlternating(VIP);
  declare(...seed({ parent: "grp" }));
  const replies = await underLoad(VIP, 80, () => stack.up());
  expect(failures(replies)).toEqual([]);
  await stack.refresh();
  await stack.must("preview", "--expect-no-changes");
});

test("3. an interface change moves the VIP in place while a client keeps requesting", async () => {
  declare(...seed({ parent: "grp", iface: "lan2" }));
  const replies = await underLoad(VIP, 80, () => stack.up());
  expect(failures(replies)).toEqual([]);
  expect(onHost("director", "ip -o -4 addr show dev lan2")).toContain(`${VIP}/32`);
  expect(onHost("director", "ip -o -4 addr show dev eth1")).not.toContain(`${VIP}/32`);
  expectAlternating(VIP);
});

test("4. a script that fails half-way is finished by the next up, and leaves nothing behind", async () => {
  // Make the boot file write fail on rs-b, after the address was already added.
  onHost("rs-b", "mkdir -p /etc/pulumi-lvs/addrs.conf.tmp");
  declare(...seed({ parent: "grp", iface: "lan2" }), {
    type: "DrRealServerHost",
    name: "extra",
    args: { connection: conn(rsB), vips: [EXTRA] },
  });
  const r = await stack.run("up", "--yes", "--skip-preview");
  expect(r.code).not.toBe(0);
  expect(r.output).toContain("addrs.conf");
  expect(onHost("rs-b", "ls /var/lib/pulumi-lvs")).toContain("ledger.next.json"); // intent, not committed
  onHost("rs-b", "rmdir /etc/pulumi-lvs/addrs.conf.tmp");
  await stack.up();
  expect(onHost("rs-b", "ip -o -4 addr show dev lo")).toContain(`${EXTRA}/32`);
  expect(onHost("rs-b", "cat /etc/pulumi-lvs/addrs.conf")).toContain(`${EXTRA}/32 lo`);
  expect(onHost("rs-b", "ls /var/lib/pulumi-lvs")).not.toContain("ledger.next.json");
  declare(...seed({ parent: "grp", iface: "lan2" }));
  await stack.up();
  expect(onHost("rs-b", "ip -o -4 addr show dev lo")).not.toContain(EXTRA);
  expect(onHost("rs-b", "cat /etc/pulumi-lvs/addrs.conf")).not.toContain(EXTRA);
});

test("5. one operation of a batch refused by the kernel fails alone: the others stay applied (no blinking), no request fails", async () => {
  const d = conn(director);
  // This kernel (6.1) has no ip_vs_twos, which only the write can find out: the new service's group fails.
  const rest = seed({ parent: "grp", iface: "lan2" }).map((r) => (r.name === "m-web-b" ? { ...r, args: { ...r.args, weight: 3 } } : r));
  declare(...rest, { type: "VirtualService", name: "m-twos", args: { connection: d, address: VIP, port: 8082, scheduler: "twos" } });
  let r: RunResult | undefined;
  const replies = await underLoad(VIP, 80, async () => (r = await stack.run("up", "--yes", "--skip-preview")));
  expect(r!.code).not.toBe(0);
  expect(r!.errors.join("\n")).toContain("scheduler twos is not available on this kernel (no module ip_vs_twos)");
  expect(changes(r!)["m-web-b"]).toBe("update");
  expect(failures(replies)).toEqual([]);
  // The weight went in and was committed with the boot rules; the refused service left nothing.
  expect(onHost("director", "ipvsadm -S -n")).toContain(`-a -t ${VIP}:80 -r ${rsB.lanAddress}:80 -g -w 3`);
  expect(onHost("director", "cat /etc/pulumi-lvs/ipvs.rules")).toContain(`-a -t ${VIP}:80 -r ${rsB.lanAddress}:80 -g -w 3`);
  expect(onHost("director", "ipvsadm -S -n")).not.toContain(`${VIP}:8082`);
  expect(onHost("director", "ls /var/lib/pulumi-lvs")).not.toContain("ledger.next.json");
  declare(...seed({ parent: "grp", iface: "lan2" }));
  await stack.up();
  await stack.must("preview", "--expect-no-changes");
});

test("6. a rebuilt director (new host key, nothing configured) is recovered by pinning its key: up, then refresh", async () => {
  labCli("rotate-hostkey", "director");
  onHost("director", `ipvsadm -D -t ${VIP}:80; rm -rf /var/lib/pulumi-lvs /etc/pulumi-lvs; ip addr del ${VIP}/32 dev lan2`);
  // Nothing changed in the program, so `up` would not even connect: refresh is what meets the new key.
  const refused = await stack.run("refresh", "--yes", "--skip-preview");
  expect(refused.code).not.toBe(0);
  directorKey = refused.output.match(/host presented (SHA256:[A-Za-z0-9+/]+)/)?.[1];
  expect(directorKey).toBeDefined();
  declare(...seed({ parent: "grp", iface: "lan2", directorKey }));
  await stack.up();
  expectAlternating(VIP);
  await stack.refresh();
  await stack.must("preview", "--expect-no-changes");
});

test("7. a VIP change keeps the old VIP serving until its backend drained, then serves on the new one", async () => {
  // A slow TCP service on 9000 (busybox nc): "long" is answered after 25 s.
  for (const [h, page] of [
    ["rs-a", "A"],
    ["rs-b", "B"],
  ]) {
    onHost(
      h,
      `printf '#!/bin/sh\\nread line\\n[ "$line" = long ] && sleep 25\\necho "${page} $line"\\n' > /run/lvs-slow.sh && ` +
        `(ss -ltn | grep -q ':9000 ' || (nohup busybox nc -ll -p 9000 -e sh /run/lvs-slow.sh >/dev/null 2>&1 &))`,
    );
  }
  const slow = (vip: string) => ({
    type: "LvsDrCluster",
    name: "slow",
    args: {
      director: conn(director, { hostKey: directorKey }),
      vip,
      port: 9000,
      scheduler: "rr",
      drainTimeout: 60,
      interface: "lan2",
      backends: [
        { name: "a", address: rsA.lanAddress, connection: conn(rsA) },
        { name: "b", address: rsB.lanAddress, connection: conn(rsB) },
      ],
    },
  });
  const rest = seed({ parent: "grp", iface: "lan2", directorKey });
  declare(...rest, slow(VIP2));
  await stack.up();
  onHost(
    "client",
    `rm -f /tmp/long.out; (nohup sh -c '(echo long; sleep 40) | busybox nc ${VIP2} 9000 > /tmp/long.out 2>&1' >/dev/null 2>&1 &)`,
  );
  await new Promise((r) => setTimeout(r, 2000));
  declare(...rest, slow(VIP));
  const r = await stack.up();
  expect(r.output).toMatch(/draining .*1 active connection/);
  // The long connection through the old VIP got its answer: the old VIP and backend stayed until it ended.
  expect(onHost("client", "cat /tmp/long.out").trim()).toMatch(/^[AB] long$/);
  expect(onHost("client", `(echo short; sleep 2) | busybox nc -w 5 ${VIP} 9000`).trim()).toMatch(/^[AB] short$/);
  expect(onHost("director", "ip -o -4 addr show")).not.toContain(VIP2);
});

test("8. destroy leaves every host as it was", async () => {
  await stack.destroy();
  expect(hostState(HOSTS)).toEqual(before);
});
