// pulumi-lvs from a YAML program, through its provider plugin (pulumi-resource-lvs) and the
// real YAML language host: the walkthrough's cluster from the plain resources (and a pool given inline), six requests
// alternate, preview is clean, a weight change is an in-place update of that one real server,
// no secret reaches the state in plain text, bad input fails at preview naming the property
// with no host dialled, a hand-made service is `pulumi import`ed (refresh sees it edited by
// hand) and then changed through the program, and destroy leaves every host as it was.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  REPO,
  Stack,
  changes,
  expectAlternating,
  hostState,
  ipvsRules,
  labHost,
  labStatus,
  onHost,
  tripwire,
  stackLifecycle,
} from "./harness";

jest.setTimeout(20 * 60_000);

const lab = labStatus();
const [director, rsA, rsB] = ["director", "rs-a", "rs-b"].map((n) => labHost(lab, n));
const HOSTS = ["director", "rs-a", "rs-b"];
const PROGRAM = path.join(REPO, "test/e2e/yaml-program");
const stack = new Stack(PROGRAM, "yaml");
const config = (extra: Record<string, unknown> = {}) => ({
  "lvs-yaml-e2e:keyPath": director.keyPath,
  "lvs-yaml-e2e:vip": lab.vip,
  "lvs-yaml-e2e:directorPort": director.sshPort,
  "lvs-yaml-e2e:rsAPort": rsA.sshPort,
  "lvs-yaml-e2e:rsBPort": rsB.sshPort,
  "lvs-yaml-e2e:rsAAddress": rsA.lanAddress,
  "lvs-yaml-e2e:rsBAddress": rsB.lanAddress,
  // The provider's default connection: the imported service logs in with it (the program's resources give their own).
  "lvs:connection": { privateKey: fs.readFileSync(director.keyPath, "utf8") },
  ...extra,
});
const before = stackLifecycle(stack, HOSTS);

test("1. the cluster from a YAML program: every resource created, six requests alternate, preview is clean", async () => {
  stack.setConfig(config());
  const up = await stack.up();
  expect(changes(up)).toEqual({
    director: "create",
    web: "create",
    "host-a": "create",
    "host-b": "create",
    "rs-a": "create",
    "rs-b": "create",
    pool: "create",
  });
  expect(up.steps.every((s) => s.type.startsWith("lvs:index:"))).toBe(true);
  expectAlternating(lab.vip);
  // The pool's backends, given inline, are in the kernel as a RealServer's would be.
  expect(ipvsRules().filter((l) => l.includes(`${lab.vip}:8081`))).toEqual([
    `-A -t ${lab.vip}:8081 -s wlc`,
    `-a -t ${lab.vip}:8081 -r ${rsA.lanAddress}:8081 -g -w 1`,
    `-a -t ${lab.vip}:8081 -r ${rsB.lanAddress}:8081 -g -w 1`,
  ]);
  const preview = await stack.must("preview", "--expect-no-changes");
  expect(changes(preview)).toEqual({});
});

test("2. the private key given as plain config text is a secret in the state", async () => {
  const key = fs.readFileSync(director.keyPath, "utf8").split("\n")[1];
  expect(key.length).toBeGreaterThan(20);
  const state = await stack.exportState();
  expect(state).not.toContain(key);
  const outs = await stack.outputsOf("director");
  expect(outs.credentials).toMatchObject({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270" });
});

test("3. a weight change is an in-place update of that real server only (and of the pool that lists it inline), and applies", async () => {
  stack.setConfig(config({ "lvs-yaml-e2e:weightB": 2 }));
  const preview = await stack.preview();
  expect(changes(preview)).toEqual({ "rs-b": "update", pool: "update" });
  expect(changes(await stack.up())).toEqual({ "rs-b": "update", pool: "update" });
  expect(ipvsRules()).toContain(`-a -t ${lab.vip}:80 -r ${rsB.lanAddress}:80 -g -w 2`);
  expect(ipvsRules()).toContain(`-a -t ${lab.vip}:8081 -r ${rsB.lanAddress}:8081 -g -w 2`);
});

test("4. bad input fails at preview naming the property and the value, and dials no host", async () => {
  const wire = await tripwire();
  const bad = new Stack(PROGRAM, "yaml-bad");
  const key = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "lvs-yaml-")), "key");
  fs.writeFileSync(key, "not-a-key");
  try {
    await bad.init();
    bad.setConfig({
      ...config({ "lvs-yaml-e2e:keyPath": key, "lvs-yaml-e2e:vip": "1.2.3.4; reboot" }),
      "lvs-yaml-e2e:directorPort": wire.port,
      "lvs-yaml-e2e:rsAPort": wire.port,
      "lvs-yaml-e2e:rsBPort": wire.port,
    });
    const r = await bad.run("preview");
    expect(r.code).not.toBe(0);
    // The engine's error diagnostics: a resource with the VIP names its property and the value.
    const named = r.errors.find((e) => e.includes("property vips.0"));
    expect(named).toContain('must be an IPv4 or IPv6 address, got "1.2.3.4; reboot"');
    expect(wire.count()).toBe(0);
  } finally {
    await bad.remove();
    await wire.close();
  }
});

/** The YAML program with one more service declared (a copy in a temporary folder). */
function programWith(resource: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-yaml-program-"));
  const text = fs.readFileSync(path.join(PROGRAM, "Pulumi.yaml"), "utf8").replace(/^resources:\n/m, `resources:\n${resource}`);
  fs.writeFileSync(path.join(dir, "Pulumi.yaml"), text);
  return dir;
}
const legacy = (scheduler: string) => `  legacy:
    type: lvs:index:VirtualService
    properties:
      connection: { host: 127.0.0.1, port: "\${directorPort}", user: root }
      address: \${vip}
      port: 8080
      scheduler: ${scheduler}
`;

test("5. pulumi import of a hand-made service (the provider's lvs:connection logs in): no kernel change, clean preview, refresh sees a hand edit, then changed through the program", async () => {
  onHost("director", `ipvsadm -A -t ${lab.vip}:8080 -s wlc`);
  const kernel = ipvsRules();
  // The default connection holds the key, in plain text in the stack's config: kept secret all the same.
  const key = fs.readFileSync(director.keyPath, "utf8");
  const id = `root@127.0.0.1:${director.sshPort}/tcp/${lab.vip}:8080`;
  await stack.must(
    "import",
    "lvs:index:VirtualService",
    "legacy",
    id,
    "--yes",
    "--skip-preview",
    "--protect=false",
    "--generate-code=false",
    "--config-file",
    stack.configFile,
  );
  expect(ipvsRules()).toEqual(kernel);
  expect(await stack.outputsOf("legacy")).toMatchObject({ address: lab.vip, port: 8080, protocol: "tcp", scheduler: "wlc", adopted: true });
  expect(await stack.exportState()).not.toContain(key.split("\n")[1]);
  // The program declares it as it is, its key from the provider's configuration: nothing to do.
  stack.programDir = programWith(legacy("wlc"));
  expect(changes(await stack.must("preview", "--expect-no-changes"))).toEqual({});
  // A hand edit behind the stack's back is drift that refresh reports.
  onHost("director", `ipvsadm -E -t ${lab.vip}:8080 -s sh`);
  await stack.refresh();
  expect(await stack.outputsOf("legacy")).toMatchObject({ scheduler: "sh" });
  onHost("director", `ipvsadm -E -t ${lab.vip}:8080 -s wlc`);
  await stack.refresh();
  expect(ipvsRules()).toEqual(kernel);
  // Changed through the program: an in-place update of that service alone (import named it, so it is not refused).
  stack.programDir = programWith(legacy("rr"));
  expect(changes(await stack.up())).toEqual({ legacy: "update" });
  expect(ipvsRules()).toContain(`-A -t ${lab.vip}:8080 -s rr`);
});

test("6. destroy leaves every host as it was: the imported service, there before, is given back as it was found", async () => {
  await stack.destroy();
  expect(ipvsRules()).toContain(`-A -t ${lab.vip}:8080 -s wlc`);
  onHost("director", `ipvsadm -D -t ${lab.vip}:8080`);
  expect(hostState(HOSTS)).toEqual(before());
});

test("7. the same cluster as one LvsDrCluster component (the plugin's construct): its resources its children, six requests alternate, preview is clean, a weight change is an in-place update, destroy leaves every host as it was", async () => {
  const cluster = new Stack(path.join(REPO, "test/e2e/yaml-cluster"), "yaml-cluster");
  const { "lvs:connection": _, ...rest } = config();
  await cluster.init();
  try {
    const clusterConfig = Object.fromEntries(
      Object.entries(rest).map(([k, v]) => [k.replace("lvs-yaml-e2e:", "lvs-yaml-cluster-e2e:"), v]),
    );
    cluster.setConfig(clusterConfig);
    const up = await cluster.up();
    const created = up.steps.filter((s) => s.op === "create" && s.type.startsWith("lvs:index:"));
    expect(created.map((s) => s.type).sort()).toEqual(
      ["LvsDrCluster", "DirectorHost", "VirtualService", "DrRealServerHost", "DrRealServerHost", "RealServer", "RealServer"]
        .map((k) => `lvs:index:${k}`)
        .sort(),
    );
    expectAlternating(lab.vip);
    expect(changes(await cluster.must("preview", "--expect-no-changes"))).toEqual({});
    expect(JSON.parse((await cluster.must("stack", "output", "--json")).stdout)).toEqual({ directorInterface: "eth1" });
    // A backend's weight through the component: an in-place update of that real server alone, applied.
    cluster.setConfig({ ...clusterConfig, "lvs-yaml-cluster-e2e:weightB": 2 });
    expect(changes(await cluster.preview())).toEqual({ "seed-rs-rs-b": "update" });
    expect(changes(await cluster.up())).toEqual({ "seed-rs-rs-b": "update" });
    expect(ipvsRules()).toContain(`-a -t ${lab.vip}:80 -r ${rsB.lanAddress}:80 -g -w 2`);
    await cluster.destroy();
    expect(hostState(HOSTS)).toEqual(before());
  } finally {
    await cluster.run("destroy", "--yes", "--skip-preview");
    await cluster.remove();
  }
});

test("8. bad input to the component fails at preview naming the field and the value, and dials no host", async () => {
  const wire = await tripwire();
  const bad = new Stack(path.join(REPO, "test/e2e/yaml-cluster"), "yaml-cluster-bad");
  try {
    await bad.init();
    bad.setConfig({
      "lvs-yaml-cluster-e2e:keyPath": director.keyPath,
      "lvs-yaml-cluster-e2e:vip": "1.2.3.4; reboot",
      "lvs-yaml-cluster-e2e:directorPort": wire.port,
      "lvs-yaml-cluster-e2e:rsAPort": wire.port,
      "lvs-yaml-cluster-e2e:rsBPort": wire.port,
      "lvs-yaml-cluster-e2e:rsAAddress": rsA.lanAddress,
      "lvs-yaml-cluster-e2e:rsBAddress": rsB.lanAddress,
    });
    const r = await bad.run("preview");
    expect(r.code).not.toBe(0);
    expect(r.errors.join("\n")).toContain('LvsDrCluster seed: vip: must be an IPv4 or IPv6 address, got "1.2.3.4; reboot"');
    expect(wire.count()).toBe(0);
  } finally {
    await bad.remove();
    await wire.close();
  }
});
