// Two directors that fail over, and health-checked backends, through keepalived (issue: HA and
// health checks), through the real CLI on the lab, as explicit ordered steps. An LvsDrCluster
// with `ha` (director primary, director2 standby) and an HTTP health check: a dead backend
// leaves rotation and comes back, weight 0 with inhibit_on_failure, drift in our keepalived
// file or the kernel is reported and repaired, a failing config test changes nothing, weight
// changes and removals drain without breaking a transfer, a transfer survives the active
// director's death (connection sync), failback follows `preempt`, both directors come back
// from a reboot with no Pulumi run, a health check turned off and on again hands the service
// between ipvsadm and keepalived, and destroy leaves every host as it was.
import * as path from "path";
import {
  REPO,
  Stack,
  changes,
  conn,
  expectAlternating,
  hostState,
  labAsync,
  labCli,
  labHost,
  labStatus,
  onHost,
  requestsFromClient,
  waitFor,
  BIG,
  removeSlowDownload,
  serveSlowDownload,
  servingBackend,
  startTransfer,
  transferDone,
} from "./harness";

jest.setTimeout(30 * 60_000);

const lab = labStatus();
const VIP = lab.vip;
const [director, director2, rsA, rsB] = ["director", "director2", "rs-a", "rs-b"].map((n) => labHost(lab, n));
const HOSTS = ["director", "director2", "rs-a", "rs-b"];
const VS_FILE = `/etc/keepalived/pulumi-lvs.d/vs-tcp-${VIP}-80.conf`;
const CONF = "/etc/keepalived/keepalived.conf";
/** director2's keepalived.conf, written "by the user" before: no trailing newline, to prove it comes back byte for byte. */
const USER_CONF = "global_defs {\\n    router_id LAB_DIRECTOR2\\n}";
const AUTH = "Lab-s3c";

const check = { type: "http", path: "/", interval: 1, timeout: 1, retries: 1 };
type Over = {
  noCheck?: boolean;
  check?: Record<string, unknown>;
  preempt?: boolean;
  weights?: { a?: number; b?: number };
  backends?: string[];
};
const cluster = (over: Over = {}) => ({
  type: "LvsDrCluster",
  name: "ha",
  args: {
    director: conn(director),
    vip: VIP,
    port: 80,
    scheduler: "rr",
    drainTimeout: 60,
    healthCheck: over.noCheck ? undefined : { ...check, ...over.check },
    ha: {
      standby: conn(director2),
      virtualRouterId: 51,
      preempt: over.preempt ?? true, // the lab fails back in step 8; the default (false) is step 9's
      authPass: AUTH,
      unicast: { primary: director.lanAddress, standby: director2.lanAddress },
    },
    backends: [
      { name: "a", address: rsA.lanAddress, connection: conn(rsA), weight: over.weights?.a ?? 1 },
      { name: "b", address: rsB.lanAddress, connection: conn(rsB), weight: over.weights?.b ?? 1 },
    ].filter((b) => (over.backends ?? ["a", "b"]).includes(b.name)),
  },
});
/** A service without a health check on the same director and VIP (port 8080): ipvsadm runs it, beside keepalived's. */
const plain = [
  { type: "VirtualService", name: "plain", args: { connection: conn(director), address: VIP, port: 8080, scheduler: "rr" } },
  ...[rsA, rsB].map((h) => ({
    type: "RealServer",
    name: `plain-${h.name}`,
    args: { service: "plain", address: h.lanAddress, drainTimeout: 0 },
  })),
];
const stack = new Stack(path.join(REPO, "test/e2e/program"), "ha");
const declare = (c: ReturnType<typeof cluster>) => stack.declare(c, ...plain);

/** Which director holds the VIP (VRRP master), or undefined while neither does. */
const holder = (): string | undefined => {
  // (A director that is powered off holds nothing: its failed ssh reads as empty.)
  const on = ["director", "director2"].filter(
    (h) => onHost(h, `ip -o addr show dev eth1 | grep -c ' ${VIP}/32' || true`, { allowFail: true }).trim() > "0",
  );
  return on.length === 1 ? on[0] : undefined;
};
const waitHolder = (h: string, seconds = 30) => waitFor(`${h} to hold the VIP`, seconds, () => (holder() === h ? h : undefined));
/** A destination's `ipvsadm -S -n` line in the service VIP:80 on a director, or undefined. */
const destLine = (host: string, rs: string) =>
  onHost(host, "ipvsadm -S -n")
    .split("\n")
    .find((l) => l.startsWith(`-a -t ${VIP}:80 -r ${rs}:80 `));
const sha = (host: string, file: string) => onHost(host, `sha256sum ${file} | cut -c1-64`).trim();
/** The backends' httpd on 8080 too, for the plain service (the lab's serves 80). */
const SERVE_8080 = "ss -ltn | grep -q ':8080 ' || (nohup busybox httpd -p 8080 -h /srv/www >/dev/null 2>&1 &)";
const unitOutputs = (name: string) => stack.outputsOf(name);
/** A preview that must propose nothing (its diff is in the error when it does). */
const noChanges = () => stack.must("preview", "--expect-no-changes");
/** After a refresh, rs-b is down with its declared weight, the directors report no drift, and preview proposes nothing. */
async function downNotDrift() {
  await stack.refresh();
  expect(await unitOutputs("ha-rs-b")).toMatchObject({ health: "down", weight: 1 });
  for (const d of ["ha-director-198.51.100.100", "ha-standby-director-198.51.100.100"])
    expect(await unitOutputs(d)).toMatchObject({ drift: [], vrrpState: d.includes("standby") ? "backup" : "master" });
  await noChanges();
}

let before: Record<string, string>;
beforeAll(async () => {
  onHost("director2", `printf '${USER_CONF}' > ${CONF}`);
  serveSlowDownload(["rs-a", "rs-b"]);
  ["rs-a", "rs-b"].forEach((h) => onHost(h, SERVE_8080));
  before = hostState(HOSTS);
  await stack.init();
});
afterAll(async () => {
  await stack.run("destroy", "--yes", "--skip-preview");
  await stack.remove();
  onHost("director2", `rm -f ${CONF}`);
  // The client's neighbour entry for the VIP may name whichever director held it last.
  onHost("client", `ip neigh flush to ${VIP}`);
  removeSlowDownload(["rs-a", "rs-b"]);
  ["rs-a", "rs-b"].forEach((h) => onHost(h, "systemctl start lab-httpd"));
  labCli("up");
});

test("1. a bad health check fails at preview, naming the field, before anything connects", async () => {
  declare(cluster({ check: { path: "/ok\nnotify_up /bin/sh" } }));
  const r = await stack.run("preview");
  expect(r.code).not.toBe(0);
  expect(r.output).toMatch(/property healthCheck\.path .*must start with .*and hold no spaces or control characters/);
  expect(hostState(HOSTS)).toEqual(before);
});

test("2. up: both directors carry the service, director holds the VIP, requests alternate A/B", async () => {
  declare(cluster());
  await stack.up();
  await waitHolder("director");
  await waitFor("both backends healthy", 30, () =>
    destLine("director", rsA.lanAddress) && destLine("director", rsB.lanAddress) ? true : undefined,
  );
  expectAlternating(VIP);
  for (const h of ["director", "director2"]) {
    expect(onHost(h, "systemctl is-active keepalived").trim()).toBe("active");
    expect(onHost(h, "ipvsadm -L --daemon")).toMatch(
      /master sync daemon \(mcast=eth1, syncid=51,[\s\S]*backup sync daemon \(mcast=eth1, syncid=51,/,
    );
    expect(destLine(h, rsB.lanAddress)).toBe(`-a -t ${VIP}:80 -r ${rsB.lanAddress}:80 -g -w 1`);
  }
  expect(sha("director", VS_FILE)).toBe(sha("director2", VS_FILE));
  // The plain service beside it: ipvsadm's, not in keepalived's files.
  expect(onHost("director", "ipvsadm -S -n")).toContain(`-A -t ${VIP}:8080 -s rr`);
  expect(onHost("director", "cat /etc/keepalived/pulumi-lvs.d/*.conf")).not.toContain("8080");
  expectAlternating(VIP, 8080);
  expect(onHost("director2", `cat ${CONF}`)).toBe(`${USER_CONF.replace(/\\n/g, "\n")}\ninclude /etc/keepalived/pulumi-lvs.d/*.conf\n`);
  // The VRRP password is in the keepalived file (root only) and nowhere in plaintext state.
  expect(onHost("director", "stat -c %a /etc/keepalived/pulumi-lvs.d/vrrp-eth1-51.conf").trim()).toBe("600");
  // (The test program's own config holds it in plain text: that is the test's input, not pulumi-lvs's state.)
  const resources = JSON.parse(await stack.exportState()).deployment.resources as { type: string }[];
  expect(JSON.stringify(resources.filter((r) => r.type.includes("lvs:")))).not.toContain(AUTH);
});

test("3. a dead backend leaves rotation within the check interval and comes back; refresh calls it down, not drift", async () => {
  onHost("rs-b", "systemctl stop lab-httpd");
  await waitFor("rs-b out of rotation", 15, () => (destLine("director", rsB.lanAddress) ? undefined : true));
  expect(requestsFromClient(VIP, 4)).toEqual(Array(4).fill("This is test page,this is A."));
  await downNotDrift();
  onHost("rs-b", "systemctl start lab-httpd");
  await waitFor("rs-b back in rotation", 15, () => destLine("director", rsB.lanAddress));
  expectAlternating(VIP);
  await stack.refresh();
  expect(await unitOutputs("ha-rs-b")).toMatchObject({ health: "up" });
});

test("4. with onFailure weight0 (inhibit_on_failure) a dead backend stays at weight 0", async () => {
  declare(cluster({ check: { onFailure: "weight0" } }));
  await stack.up();
  onHost("rs-b", "systemctl stop lab-httpd");
  await waitFor("rs-b at weight 0", 15, () => (destLine("director", rsB.lanAddress)?.endsWith("-w 0") ? true : undefined));
  await downNotDrift();
  onHost("rs-b", "systemctl start lab-httpd");
  await waitFor("rs-b at weight 1", 15, () => (destLine("director", rsB.lanAddress)?.endsWith("-w 1") ? true : undefined));
  declare(cluster());
  await stack.up();
});

test("5. a hand edit of our keepalived file and a hand ipvsadm change are reported by refresh and repaired by up", async () => {
  onHost("director", `echo '# edited by hand' >> ${VS_FILE}; ipvsadm -E -t ${VIP}:80 -s wlc`);
  await stack.refresh();
  expect(await unitOutputs("ha-service")).toMatchObject({ scheduler: "wlc", drift: [`${VS_FILE} was changed outside pulumi-lvs`] });
  const preview = await stack.preview();
  expect(changes(preview)).toMatchObject({ "ha-service": "update" });
  await stack.up();
  expect(sha("director", VS_FILE)).toBe(sha("director2", VS_FILE));
  expect(onHost("director", "ipvsadm -S -n")).toContain(`-A -t ${VIP}:80 -s rr`);
  await stack.refresh();
  await noChanges();
});

test("6. a change keepalived's config test refuses fails naming file and line, and changes nothing", async () => {
  const conf = sha("director", CONF);
  const file = sha("director", VS_FILE);
  onHost("director", `echo 'bogus_keyword_of_the_user 1' >> ${CONF}`);
  declare(cluster({ weights: { a: 2 } }));
  const r = await stack.run("up", "--yes", "--skip-preview");
  expect(r.code).not.toBe(0);
  expect(r.output).toMatch(/keepalived --config-test failed; nothing was changed/);
  expect(r.output).toMatch(new RegExp(`${CONF.replace(/\//g, "\\/")}.*[Ll]ine|[Ll]ine.*keepalived\\.conf`));
  expect(sha("director", VS_FILE)).toBe(file);
  expect(destLine("director", rsA.lanAddress)).toMatch(/-w 1$/);
  onHost("director", `sed -i '/^bogus_keyword_of_the_user 1$/d' ${CONF}`);
  expect(sha("director", CONF)).toBe(conf);
  await stack.up();
  expect(destLine("director", rsA.lanAddress)).toMatch(/-w 2$/);
  expect(destLine("director2", rsA.lanAddress)).toMatch(/-w 2$/);
});

test("7. a weight change and a backend's removal drain: the transfer through it is not broken", async () => {
  startTransfer(VIP, "drain");
  const serving = await servingBackend("director", VIP, "drain");
  const name = serving === rsA.lanAddress ? "a" : "b";
  declare(cluster({ weights: { a: name === "a" ? 3 : 2, b: name === "b" ? 3 : 1 } }));
  await stack.up();
  expect(destLine("director", serving)).toMatch(/-w 3$/);
  declare(cluster({ weights: { a: 2 }, backends: [name === "a" ? "b" : "a"] }));
  await stack.up(); // waits while the transfer drains
  expect(await transferDone("drain")).toEqual({ rc: "0", result: `200 ${BIG}` });
  expect(destLine("director", serving)).toBeUndefined();
  expect(destLine("director2", serving)).toBeUndefined();
  declare(cluster());
  await stack.up();
  await waitFor("both backends back", 30, () =>
    destLine("director", rsA.lanAddress) && destLine("director", rsB.lanAddress) ? true : undefined,
  );
});

test("8. the active director dies: the standby takes the VIP, a transfer survives (connection sync), requests go on", async () => {
  // About 80 s: seeing it on both directors took over 20 s on a busy machine (the backup's sync
  // daemon learns it from the master's; CI saw it twice), and it must still run when the active
  // one dies.
  startTransfer(VIP, "failover", 5);
  await servingBackend("director", VIP, "failover");
  // The standby must know the connection before the active one dies: its backup sync daemon has it.
  await servingBackend("director2", VIP, "failover");
  const requests = onHost(
    "client",
    `rm -f /tmp/requests.txt; (for i in $(seq 30); do curl -s --max-time 1 http://${VIP}/ >/dev/null || echo failed; sleep 0.5; done > /tmp/requests.txt 2>&1; echo end >> /tmp/requests.txt) >/dev/null 2>&1 &`,
  );
  expect(requests).toBe("");
  await labAsync("stop", "director");
  await waitHolder("director2");
  expect(await transferDone("failover")).toEqual({ rc: "0", result: `200 ${BIG}` });
  const failed = await waitFor("the request loop to end", 60, () => {
    const out = onHost("client", "cat /tmp/requests.txt").trim().split("\n");
    return out.includes("end") ? out.filter((l) => l === "failed").length : undefined;
  });
  console.log(`failover: ${failed} of 30 requests (1 s timeout, 0.5 s apart) failed`);
  expect(failed).toBeLessThanOrEqual(8); // the VRRP takeover: about 3 adverts of 1 s, each failed request takes 1 s
  expectAlternating(VIP);
  // It comes back from its power-off with no Pulumi run and, preempting, takes the VIP back.
  await labAsync("start", "director");
  await waitHolder("director", 120);
  await waitFor("both backends checked on director", 30, () =>
    destLine("director", rsA.lanAddress) && destLine("director", rsB.lanAddress) ? true : undefined,
  );
  expectAlternating(VIP);
});

test("9. failback follows preempt: without it the standby keeps the VIP when the primary returns", async () => {
  declare(cluster({ preempt: false }));
  await stack.up();
  onHost("director", "systemctl stop keepalived");
  await waitHolder("director2");
  onHost("director", "systemctl start keepalived");
  // The returning primary starts as BACKUP; hearing the standby, it stays so past its master-down
  // interval (3 adverts of 1 s and a skew), which it would not without nopreempt.
  await waitFor("keepalived on director to enter BACKUP", 30, () =>
    onHost("director", "journalctl -o cat _SYSTEMD_INVOCATION_ID=$(systemctl show -P InvocationID keepalived)").includes(
      "Entering BACKUP STATE",
    )
      ? true
      : undefined,
  );
  for (let i = 0; i < 6; i++) {
    expect(holder()).toBe("director2");
    await new Promise((r) => setTimeout(r, 1000)); // an invariant sampled every second, not a wait for something
  }
  expectAlternating(VIP);
  declare(cluster());
  await stack.up();
  await waitHolder("director"); // preempting again: the higher priority takes it back
});

test("10. both directors reboot: HA and health checks come back with no Pulumi run", async () => {
  await Promise.all([labAsync("reboot", "director"), labAsync("reboot", "director2")]);
  await waitHolder("director", 60);
  await waitFor("both backends healthy", 30, () =>
    destLine("director", rsA.lanAddress) && destLine("director", rsB.lanAddress) ? true : undefined,
  );
  expectAlternating(VIP);
  for (const h of ["director", "director2"])
    expect(onHost(h, "ipvsadm -L --daemon")).toMatch(/master sync daemon[\s\S]*backup sync daemon/);
  expectAlternating(VIP, 8080); // the plain service, restored by pulumi-lvs-restore
  await stack.refresh();
  await noChanges();
});

test("11. a health check turned off hands the service to ipvsadm; back on, keepalived's checks decide every backend, one dead at that moment too", async () => {
  declare(cluster({ noCheck: true }));
  await stack.up();
  for (const h of ["director", "director2"]) {
    expect(onHost(h, "ls /etc/keepalived/pulumi-lvs.d")).not.toContain("vs-");
    expect(destLine(h, rsA.lanAddress)).toBe(`-a -t ${VIP}:80 -r ${rsA.lanAddress}:80 -g -w 1`);
  }
  expectAlternating(VIP);
  await stack.refresh();
  await noChanges();
  // rs-b dies while ipvsadm runs the service (no check: it keeps its share), then the check comes
  // back. Once keepalived counted rs-a in (its first check passed: alpha), rs-b must be out; CI
  // once saw ipvsadm's rs-b stay for good when keepalived took the service over in place.
  onHost("rs-b", "systemctl stop lab-httpd");
  declare(cluster());
  await stack.up();
  expect(sha("director", VS_FILE)).toBe(sha("director2", VS_FILE));
  for (const h of ["director", "director2"]) {
    await waitFor(`rs-a checked in on ${h}`, 30, () => destLine(h, rsA.lanAddress));
    expect(destLine(h, rsB.lanAddress)).toBeUndefined();
  }
  expect(requestsFromClient(VIP, 4)).toEqual(Array(4).fill("This is test page,this is A."));
  onHost("rs-b", "systemctl start lab-httpd");
  await waitFor("rs-b in rotation once its check passes", 30, () => destLine("director", rsB.lanAddress));
  expectAlternating(VIP);
});

test("12. destroy leaves every host as it was: the user's keepalived.conf byte for byte, keepalived stopped again", async () => {
  await stack.destroy();
  expect(hostState(HOSTS)).toEqual(before);
});
