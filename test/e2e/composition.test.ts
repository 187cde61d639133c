// Many clusters on one host (issue: ownership under composition), through the real CLI on the
// lab, as explicit ordered steps. Two LvsDrClusters share one VIP on ports 80 and 8080, and a
// third uses a second VIP with the same backends: every first `up` succeeds, removing any one
// leaves the others serving (before and after rebooting every host), preview stays clean, and
// destroy leaves every host byte-identical to before.
import * as path from "path";
import { REPO, Stack, conn, expectAlternating, hostState, labAsync, labCli, labHost, labStatus, onHost } from "./harness";

jest.setTimeout(30 * 60_000);

const lab = labStatus();
const VIP = lab.vip;
const VIP2 = "198.51.100.107";
const [director, rsA, rsB] = ["director", "rs-a", "rs-b"].map((n) => labHost(lab, n));
const HOSTS = ["director", "rs-a", "rs-b"];
const cluster = (name: string, vip: string, port: number) => ({
  type: "LvsDrCluster",
  name,
  args: {
    director: conn(director),
    vip,
    port,
    scheduler: "rr",
    drainTimeout: 0,
    backends: [
      { name: "a", address: rsA.lanAddress, connection: conn(rsA) },
      { name: "b", address: rsB.lanAddress, connection: conn(rsB) },
    ],
  },
});
const web = cluster("web", VIP, 80);
const alt = cluster("alt", VIP, 8080);
const other = cluster("other", VIP2, 80);
const stack = new Stack(path.join(REPO, "test/e2e/program"), "composition");
const declare = stack.declare.bind(stack);

const hostStateNow = () => hostState(HOSTS);
/** Backend httpd on 8080 too (the lab's serves 80); gone after a reboot, so started again then. */
const serve8080 = () =>
  ["rs-a", "rs-b"].forEach((h) => onHost(h, "ss -ltn | grep -q ':8080 ' || (nohup busybox httpd -p 8080 -h /srv/www >/dev/null 2>&1 &)"));

let before: Record<string, string>;
beforeAll(async () => {
  serve8080();
  before = hostStateNow();
  await stack.init();
});
afterAll(async () => {
  await stack.run("destroy", "--yes", "--skip-preview");
  await stack.remove();
  labCli("up");
});

test("1. the first up of two clusters on one VIP (80 and 8080) and a third on another VIP succeeds", async () => {
  declare(web, alt, other);
  await stack.up();
  expectAlternating(VIP, 80);
  expectAlternating(VIP, 8080);
  expectAlternating(VIP2, 80);
});

test("2. removing `alt` leaves `web` and `other` serving, the shared VIP and sysctls in place", async () => {
  declare(web, other);
  await stack.up();
  expectAlternating(VIP, 80);
  expectAlternating(VIP2, 80);
  for (const h of ["rs-a", "rs-b"]) {
    expect(onHost(h, "ip -o -4 addr show dev lo")).toContain(`${VIP}/32`);
    expect(onHost(h, "sysctl -n net.ipv4.conf.all.arp_ignore net.ipv4.conf.all.arp_announce").trim().split("\n")).toEqual(["1", "2"]);
  }
  expect(onHost("director", "ipvsadm -S -n")).not.toContain(":8080");
});

test("3. after rebooting every host, `web` and `other` serve with no pulumi run, and preview is clean", async () => {
  await Promise.all(HOSTS.map((h) => labAsync("reboot", h)));
  expectAlternating(VIP, 80);
  expectAlternating(VIP2, 80);
  await stack.must("preview", "--expect-no-changes");
});

test("4. the other order: `alt` back, `web` removed; `alt` serves, also after a reboot", async () => {
  serve8080();
  declare(alt, other);
  await stack.up();
  expectAlternating(VIP, 8080);
  expect(onHost("director", "ipvsadm -S -n")).not.toMatch(new RegExp(`${VIP.replace(/\./g, "\\.")}:80 `));
  await Promise.all(HOSTS.map((h) => labAsync("reboot", h)));
  serve8080();
  expectAlternating(VIP, 8080);
  expectAlternating(VIP2, 80);
  await stack.must("preview", "--expect-no-changes");
});

test("5. removing the cluster on the second VIP leaves `alt` serving", async () => {
  declare(alt);
  await stack.up();
  expectAlternating(VIP, 8080);
  expect(onHost("director", "ip -o -4 addr show")).not.toContain(VIP2);
});

test("6. destroy leaves every host byte-identical to before", async () => {
  await stack.destroy();
  expect(hostStateNow()).toEqual(before);
});
