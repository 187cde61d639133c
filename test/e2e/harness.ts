// The end-to-end harness: the VM lab (real kernels with IPVS, real OpenSSH) and the
// real `pulumi` CLI with a local file backend in a temp dir. Assertions read the
// hosts' live state through the lab's own ssh, independent of the provider's code.
// A missing prerequisite (lab not up, no pulumi CLI) fails loudly; nothing is skipped.
import { execFile, execFileSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";

export const REPO = path.resolve(__dirname, "../..");
const LAB = path.join(REPO, "test/lab/lab.sh");

// Each jest worker drives its own lab: its environment (lab-environment.js) set the variables.
const WORKER = process.env.PULUMI_LVS_E2E_LAB ?? "1";

/**
 * Where the suite's time goes: with PULUMI_LVS_E2E_TIMINGS set (make e2e sets it), every pulumi
 * run, lab VM operation and host probe appends one JSON line there; tools/e2e-timings.js sums them.
 */
function timed(what: string, started: number): void {
  const file = process.env.PULUMI_LVS_E2E_TIMINGS;
  if (!file) return;
  const test = path.basename(expect.getState().testPath ?? "?", ".test.ts");
  fs.appendFileSync(file, JSON.stringify({ test, what, start: started, end: Date.now() }) + "\n");
}

export interface LabHost {
  name: string;
  role: "director" | "backend" | "client";
  sshHost: string;
  sshPort: number;
  user: string;
  sudoUser: string;
  passwordSudoUser: string;
  keyPath: string;
  lanAddress: string;
  /** IPv6 address of the same NIC (eth1), 2001:db8:100::/64 on the LAN, 2001:db8:113::/64 on segment 2. */
  lanAddress6: string;
  /** Which switch eth1 is on: the LAN (198.51.100.0/24) or segment 2 (203.0.113.0/24, behind director2). */
  segment: "lan" | "seg2";
  /** director2 only: its third NIC (eth2) on segment 2; it routes between the segments. */
  seg2Address?: string;
  seg2Address6?: string;
  running: boolean;
  page?: string;
}
export interface LabStatus {
  stateDir: string;
  vip: string;
  /** The IPv6 VIP reserved for tests (2001:db8:100::100); the lab never configures it. */
  vip6: string;
  hosts: LabHost[];
}

export function labStatus(): LabStatus {
  let out: string;
  try {
    out = execFileSync("bash", [LAB, "status", "--json"], { encoding: "utf8" });
  } catch (e) {
    throw new Error(`lab status failed (start the labs: bash test/lab/labs.sh up ${WORKER}): ${(e as Error).message}`);
  }
  const s = JSON.parse(out) as LabStatus;
  const want = process.env.PULUMI_LVS_LAB_DIR;
  if (want && path.resolve(s.stateDir) !== path.resolve(want))
    throw new Error(`lab ${WORKER}: lab.sh answered for ${s.stateDir}, not ${want}`);
  const down = s.hosts.filter((h) => !h.running).map((h) => h.name);
  if (down.length) throw new Error(`lab ${WORKER}'s hosts not running: ${down.join(", ")} (bash test/lab/labs.sh up ${WORKER})`);
  return s;
}

export function labHost(s: LabStatus, name: string): LabHost {
  const h = s.hosts.find((x) => x.name === name);
  if (!h) throw new Error(`no lab host ${name}`);
  return h;
}

/** Runs a command on a lab VM as root through the lab CLI (OpenSSH), returns stdout. */
export function onHost(name: string, cmd: string, opts: { allowFail?: boolean } = {}): string {
  const started = Date.now();
  try {
    return execFileSync("bash", [LAB, "ssh", name, cmd], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    if (opts.allowFail) return (e as { stdout?: string }).stdout ?? "";
    const err = e as { stderr?: string; status?: number };
    throw new Error(`on ${name}: \`${cmd}\` failed (exit ${err.status}): ${err.stderr}`);
  } finally {
    timed("host probe", started);
  }
}

export function labCli(...args: string[]): string {
  const started = Date.now();
  try {
    return execFileSync("bash", [LAB, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  } finally {
    timed(args[0] === "ssh" ? "host probe" : `lab ${args[0]}`, started);
  }
}

/** `count` HTTP requests to the VIP from the client VM; the bodies, one per request. */
export function requestsFromClient(vip: string, count: number, port = 80): string[] {
  const out = onHost("client", `for i in $(seq ${count}); do curl -s --max-time 5 http://${vip}:${port}/ || echo FAILED; done`);
  return out.trim().split("\n");
}

/** One step the engine took for a resource, from its event log (`--event-log`). */
export interface Step {
  /** create, update, delete, replace, same, read, refresh, ... as the engine names them. */
  op: string;
  urn: string;
  /** The last part of the URN: the resource's name. */
  name: string;
  type: string;
  /** The properties that changed (for an update or replace). */
  diffs: string[];
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  output: string;
  /** The steps that completed (resOutputsEvent; for a preview, the planned ones: resourcePreEvent). */
  steps: Step[];
  /** The engine's diagnostics of severity error (diagnosticEvent): a failed resource's message among them. */
  errors: string[];
}

type Meta = { op: string; urn: string; type: string; diffs?: string[] };
type Diagnostic = { message?: string; severity?: string };
type Event = { resOutputsEvent?: { metadata: Meta }; diagnosticEvent?: Diagnostic };
type PreviewStep = {
  op: string;
  urn: string;
  newState?: { type: string };
  oldState?: { type: string };
  detailedDiff?: Record<string, unknown>;
};

const ours = (type: string) => type !== "pulumi:pulumi:Stack" && !type.startsWith("pulumi:providers:");
const step = (op: string, urn: string, type: string, diffs: string[]): Step => ({ op, urn, name: urn.split("::").pop()!, type, diffs });

/**
 * The engine's structured output (`--json`): for up, refresh and destroy a stream of events (the
 * steps that completed are resOutputsEvents), for preview one document with its planned steps.
 */
function parseEngineJson(stdout: string, preview: boolean): { steps: Step[]; diagnostics: Diagnostic[] } {
  if (preview) {
    let doc: { steps?: PreviewStep[]; diagnostics?: Diagnostic[] } = {};
    try {
      doc = JSON.parse(stdout) as typeof doc;
    } catch {
      // A preview that failed before planning prints its error on stderr only.
    }
    const steps = (doc.steps ?? []).flatMap((s) => {
      const type = s.newState?.type ?? s.oldState?.type ?? "";
      return ours(type) ? [step(s.op, s.urn, type, Object.keys(s.detailedDiff ?? {}))] : [];
    });
    return { steps, diagnostics: doc.diagnostics ?? [] };
  }
  const events = stdout.split("\n").flatMap((line) => {
    try {
      return line.startsWith("{") ? [JSON.parse(line) as Event] : [];
    } catch {
      return [];
    }
  });
  return {
    steps: events.flatMap((e) => {
      const m = e.resOutputsEvent?.metadata;
      return m && ours(m.type) ? [step(m.op, m.urn, m.type, m.diffs ?? [])] : [];
    }),
    diagnostics: events.flatMap((e) => (e.diagnosticEvent ? [e.diagnosticEvent] : [])),
  };
}

/** name -> op of the steps that changed something (not "same"), for comparing with toEqual. */
export const changes = (r: RunResult): Record<string, string> =>
  Object.fromEntries(r.steps.filter((s) => s.op !== "same").map((s) => [s.name, s.op]));
/** How many steps of each op that changed something (create, update, delete, replace, ...). */
export const opCounts = (r: RunResult): Record<string, number> =>
  r.steps.filter((s) => s.op !== "same").reduce<Record<string, number>>((n, s) => ({ ...n, [s.op]: (n[s.op] ?? 0) + 1 }), {});

/**
 * A directory holding only `pulumi-resource-lvs`, the provider plugin of this build, as
 * `npm install -g pulumi-lvs` puts it on a user's PATH: where the engine finds it for YAML programs.
 */
const PLUGIN_DIR = (() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-lvs-plugin-"));
  fs.symlinkSync(path.join(REPO, "bin/provider/plugin/main.js"), path.join(dir, "pulumi-resource-lvs"));
  return dir;
})();

/** A stack of a Pulumi program driven through the real CLI with its own PULUMI_HOME and file backend. */
export class Stack {
  /** The program the CLI runs; an upgrade test points the same stack at another release's program. */
  programDir: string;
  readonly home = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-lvs-e2e-"));
  readonly configFile = path.join(this.home, "Pulumi.stack.yaml");
  readonly env: NodeJS.ProcessEnv;

  constructor(
    programDir: string,
    readonly name = "e2e",
  ) {
    this.programDir = programDir;
    this.env = {
      ...process.env,
      PATH: `${PLUGIN_DIR}${path.delimiter}${process.env.PATH ?? ""}`,
      PULUMI_HOME: path.join(this.home, "pulumi-home"),
      PULUMI_BACKEND_URL: `file://${path.join(this.home, "state")}`,
      PULUMI_CONFIG_PASSPHRASE: "e2e-passphrase",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
      NO_COLOR: "1",
      // `make test` type-checks everything first; ts-node needs only to transpile here.
      PULUMI_NODEJS_TRANSPILE_ONLY: "true",
    };
    fs.mkdirSync(path.join(this.home, "state"));
  }

  async init(): Promise<void> {
    fs.writeFileSync(this.configFile, "config: {}\n");
    await this.must("stack", "init");
  }

  /** Writes the stack's config file from a map of key -> JSON-able value (project-namespaced keys). */
  setConfig(values: Record<string, unknown>): void {
    const lines = Object.entries(values).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`);
    fs.writeFileSync(this.configFile, `config:\n${lines.join("\n")}\n`);
  }

  /** Declares the e2e program's resources (see test/e2e/program). */
  declare(...resources: Record<string, unknown>[]): void {
    this.setConfig({ "lvs-e2e:resources": resources });
  }

  /**
   * Runs the CLI. Engine commands (up, preview, refresh, destroy) run with --json: their steps
   * and diagnostics come back structured, and `output` is the diagnostics' text (what the
   * engine and the provider said, errors included) followed by stderr.
   */
  run(...args: string[]): Promise<RunResult> {
    return this.start(...args).result;
  }

  /** As run, with the CLI's pid (a test that stops a run midway kills it by that pid). */
  start(...args: string[]): { pid: number; result: Promise<RunResult> } {
    const engine = ["up", "preview", "refresh", "destroy"].includes(args[0]);
    const withConfig = engine ? ["--config-file", this.configFile, "--json"] : [];
    const full = [...args, ...withConfig, "--stack", this.name, "--non-interactive"];
    let child: ReturnType<typeof execFile> | undefined;
    const started = Date.now();
    const result = new Promise<RunResult>((resolve) => {
      child = execFile(
        "pulumi",
        full,
        { cwd: this.programDir, env: this.env, maxBuffer: 64 << 20, timeout: 15 * 60_000 },
        (err, stdout, stderr) => {
          timed(`pulumi ${args[0]}`, started);
          const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
          if (!engine) return resolve({ code, stdout, stderr, output: stdout + stderr, steps: [], errors: [] });
          const { steps, diagnostics } = parseEngineJson(stdout, args[0] === "preview");
          const said = diagnostics.filter((d) => d.severity !== "debug");
          const errors = said.filter((d) => d.severity === "error").map((d) => d.message ?? "");
          resolve({ code, stdout, stderr, output: said.map((d) => d.message ?? "").join("") + stderr, steps, errors });
        },
      );
    });
    return { pid: child!.pid!, result };
  }

  async must(...args: string[]): Promise<RunResult> {
    const r = await this.run(...args);
    if (r.code !== 0)
      throw new Error(`pulumi ${args.join(" ")} failed (exit ${r.code}):\n${r.output}\nsteps: ${JSON.stringify(changes(r), null, 1)}`);
    return r;
  }

  up = () => this.must("up", "--yes", "--skip-preview");
  preview = () => this.must("preview");
  refresh = () => this.must("refresh", "--yes", "--skip-preview");
  destroy = () => this.must("destroy", "--yes", "--skip-preview");

  async exportState(): Promise<string> {
    return (await this.must("stack", "export")).stdout;
  }

  /** The outputs of the resource named `name` (the last part of its URN), from the stack's state. */
  async outputsOf(name: string): Promise<Record<string, unknown>> {
    const state = JSON.parse(await this.exportState()) as {
      deployment: { resources?: { urn: string; outputs?: Record<string, unknown> }[] };
    };
    const r = (state.deployment.resources ?? []).find((x) => x.urn.endsWith(`::${name}`));
    if (!r) throw new Error(`no resource ${name} in the stack`);
    return r.outputs ?? {};
  }

  async remove(): Promise<void> {
    await this.run("stack", "rm", "--yes", "--force");
    fs.rmSync(this.home, { recursive: true, force: true });
  }
}

/**
 * Unpacks and builds a previous release (test/upgrade/pulumi-lvs-VERSION.tar.gz, its source)
 * beside this one and returns its root; its dependencies are ours, pulumi-lvs is itself.
 */
export function installRelease(version: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pulumi-lvs-release-"));
  execFileSync("tar", ["xzf", path.join(REPO, `test/upgrade/pulumi-lvs-${version}.tar.gz`), "-C", dir]);
  const root = path.join(dir, `pulumi-lvs-${version}`);
  fs.mkdirSync(path.join(root, "node_modules"));
  for (const e of fs.readdirSync(path.join(REPO, "node_modules"))) {
    if (e !== "pulumi-lvs" && !e.startsWith(".")) fs.symlinkSync(path.join(REPO, "node_modules", e), path.join(root, "node_modules", e));
  }
  fs.symlinkSync("..", path.join(root, "node_modules", "pulumi-lvs"), "dir");
  execFileSync(path.join(REPO, "node_modules/.bin/tsc"), ["-p", "tsconfig.build.json"], { cwd: root });
  // The files the compiled runtime reads (the boot restore script), where its build puts them.
  if (fs.existsSync(path.join(root, "tools/copy-assets.js"))) execFileSync("node", ["tools/copy-assets.js"], { cwd: root });
  return root;
}

/** A connection block for a lab host by key path, plus any extra fields (hostKey, proxy, ...). */
export function conn(h: LabHost, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { host: h.sshHost, port: h.sshPort, user: h.user, privateKeyPath: h.keyPath, ...extra };
}

/** lab.sh without blocking the event loop (a VM stops or reboots while requests go on). */
export const labAsync = async (...args: string[]) => {
  const started = Date.now();
  try {
    return await promisify(execFile)("bash", [LAB, ...args]);
  } finally {
    timed(`lab ${args[0]}`, started);
  }
};

/** A connection block for a lab host, with the lab's key read from disk. */
export function connectionOf(h: LabHost, user: string = h.user): Record<string, unknown> {
  return { host: h.sshHost, port: h.sshPort, user, privateKey: fs.readFileSync(h.keyPath, "utf8") };
}

/**
 * A TCP listener on 127.0.0.1 that counts every connection made to it: pointed at by a
 * program with bad input, it proves validation failed before anything dialed a host.
 */
export async function tripwire(): Promise<{ port: number; count: () => number; close: () => Promise<void> }> {
  let n = 0;
  const server = net.createServer((s) => {
    n++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    count: () => n,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/**
 * Polls `check` (every second) until it returns a value other than undefined, or fails after
 * `seconds` naming what was awaited and the last thing seen: the one way e2e steps wait.
 */
export async function waitFor<T>(what: string, seconds: number, check: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${seconds}s waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** The director's IPVS table as `ipvsadm -S -n` lines, sorted. */
export const ipvsRules = (): string[] => onHost("director", "ipvsadm -S -n").trim().split("\n").filter(Boolean).sort();

/** Everything destroy must put back on a host: IPVS rules, addresses, the ARP and forwarding sysctls, our files. */
const HOST_STATE = [
  "ipvsadm -S -n 2>/dev/null | sort",
  // (IPv6 duplicate address detection marks a new interface's link-local address "tentative" for a while.)
  "ip -o addr show | sed 's/ valid_lft.*//; s/ tentative//' | sort",
  "sysctl -n net.ipv4.conf.lo.arp_ignore net.ipv4.conf.all.arp_ignore net.ipv4.conf.lo.arp_announce net.ipv4.conf.all.arp_announce net.ipv4.ip_forward",
  "find /etc/pulumi-lvs /var/lib/pulumi-lvs /etc/sysctl.d /etc/systemd/system -name '*pulumi-lvs*' -o -path '/etc/pulumi-lvs/*' -o -path '/var/lib/pulumi-lvs/*' 2>/dev/null | sort",
  "sha256sum /etc/sysctl.d/* 2>/dev/null",
  // keepalived: its files (the user's keepalived.conf byte for byte), the unit's state, the sync daemons.
  "find /etc/keepalived -type f -exec sha256sum {} + 2>/dev/null | sort; systemctl is-enabled keepalived; systemctl is-active keepalived",
  "if [ -e /proc/net/ip_vs ]; then ipvsadm -L --daemon; ipvsadm -L --timeout; fi; true",
  // Tunnel devices and their filters, routes (NAT backends), our nftables table (fwmark services), GUE ports.
  "ip -o link show | sed 's/ qdisc.*//' | sort",
  "sysctl -n net.ipv4.conf.all.rp_filter net.ipv4.conf.all.accept_redirects net.ipv4.conf.eth1.accept_redirects net.ipv6.conf.all.forwarding",
  "ip -o -4 route show table main | sort; ip -o -6 route show table main | sort",
  "nft list ruleset 2>/dev/null; ip fou show 2>/dev/null; true",
].join("; echo ---; ");
/** The state of each host, to compare before and after. */
export const hostState = (hosts: string[]): Record<string, string> => Object.fromEntries(hosts.map((h) => [h, onHost(h, HOST_STATE)]));

/**
 * Requests from the client to vip:port every 0.2 s in the background, each reply a line of `log`
 * on the client (`FAILED` for a request that got none) with `format` as curl's `-w`, or the
 * page. `stop` ends the loop's whole process group, its curl in flight included, and returns only
 * once all are gone: a request still on its way would take a turn of the scheduler from the next
 * six. Started with `setsid`, so the group is the loop's alone.
 */
export function requestsInBackground(vip: string, port = 80, format = ""): { stop(): Promise<string[]> } {
  const log = `/tmp/requests-${port}.out`;
  const pidFile = `/tmp/requests-${port}.pid`;
  const out = format ? `-o /dev/null -w '${format}\\n'` : "";
  onHost(
    "client",
    `rm -f ${log}; (setsid sh -c "while :; do curl -s ${out} --max-time 2 http://${vip.includes(":") ? `[${vip}]` : vip}:${port}/ || echo FAILED; sleep 0.2; done" >${log} 2>&1 </dev/null & echo $! >${pidFile})`,
  );
  return {
    async stop() {
      onHost("client", `kill -- -$(cat ${pidFile})`);
      await waitFor("the client's request loop to end", 10, () =>
        onHost("client", `kill -0 -- -$(cat ${pidFile}) 2>/dev/null && echo running || true`).trim() ? undefined : true,
      );
      return onHost("client", `cat ${log}`).trim().split("\n");
    },
  };
}

/**
 * Requests to vip:port reach both backends in turn: six in a row give A three times and B three
 * times. A wlc service (the default scheduler) only alternates once its destinations carry as
 * many connections: IPVS revives a destination deleted less than its FIN_WAIT timeout (120 s)
 * ago with the connections it still counts, and wlc sends new ones to the other until both are
 * level (a stack destroyed and built again on the same VIP meets this). So when the first six do
 * not alternate, up to six more go, one at a time, until the last six do.
 */
export function expectAlternating(vip: string, port = 80): void {
  const replies = requestsFromClient(vip, 6, port);
  const alternate = () => {
    const last = replies.slice(-6);
    const count = (page: string) => last.filter((r) => r === `This is test page,this is ${page}.`).length;
    return count("A") === 3 && count("B") === 3;
  };
  while (!alternate() && replies.length < 12) replies.push(...requestsFromClient(vip, 1, port));
  if (!alternate())
    throw new Error(`requests to ${vip}:${port} did not alternate A/B: ${JSON.stringify(replies)}\n${schedulingEvidence(vip, port)}`);
}

/**
 * What decides where a request to vip:port lands, for a failure message: the client's neighbour
 * entry for the VIP (which MAC it sends to) and each director's IPVS connections to it (which real
 * server each client port was given, and in which state).
 */
function schedulingEvidence(vip: string, port: number): string {
  const at = vip.includes(":") ? `[${vip}]:${port}` : `${vip}:${port}`;
  const conns = `ipvsadm -L -n -t ${at} 2>/dev/null; ipvsadm -L -n -c 2>/dev/null | grep -F ' ${at} ' || true`;
  return [
    `client: ${onHost("client", `ip neigh show ${vip}; ip -o link show eth1 | grep -o 'link/ether [^ ]*'`, { allowFail: true }).trim()}`,
    ...["director", "director2"].map(
      (d) => `${d}: ${onHost(d, `ip -o link show eth1 | grep -o 'link/ether [^ ]*'; ${conns}`, { allowFail: true }).trim()}`,
    ),
    ...["rs-a", "rs-b"].map((h) => `${h}: ${onHost(h, "ip -o link show eth1 | grep -o 'link/ether [^ ]*'", { allowFail: true }).trim()}`),
  ].join("\n");
}

/**
 * The usual life of a test file's stack: the hosts' state read and the stack made before the
 * file's tests, the stack destroyed and removed after them. Returns the hosts' state as it was.
 */
export function stackLifecycle(stack: Stack, hosts: string[]): () => Record<string, string> {
  let before: Record<string, string> = {};
  beforeAll(async () => {
    before = hostState(hosts);
    await stack.init();
  });
  afterAll(async () => {
    await stack.run("destroy", "--yes", "--skip-preview");
    await stack.remove();
  });
  return () => before;
}

/** The size of the slow download (`serveSlowDownload`), in bytes. */
export const BIG = 400 * 1024;
/**
 * A CGI of the backends' httpd that sends BIG bytes, `QUERY_STRING` bytes each second: the
 * server paces the download. (curl's --limit-rate does not: on the lab its 20 KiB/s took 4.5 to
 * 17 s for these 400 KiB, and in one CI run the download was over before it was first looked at.)
 */
const SLOW_CGI = `#!/bin/sh
size=${BIG} per=\${QUERY_STRING:-20480} n=0
printf 'Content-Type: application/octet-stream\\r\\nContent-Length: %s\\r\\n\\r\\n' "$size"
while [ "$n" -lt "$size" ]; do
  c=$per; [ $((n + c)) -le "$size" ] || c=$((size - n))
  head -c "$c" /dev/zero
  n=$((n + c))
  [ "$n" -ge "$size" ] || sleep 1
done
`;
/** Puts the slow download (/cgi-bin/slow) on the backends; `removeSlowDownload` takes it away. */
export const serveSlowDownload = (hosts: string[]) =>
  hosts.forEach((h) =>
    onHost(h, `mkdir -p /srv/www/cgi-bin && cat > /srv/www/cgi-bin/slow <<'EOF'\n${SLOW_CGI}EOF\nchmod 755 /srv/www/cgi-bin/slow`),
  );
export const removeSlowDownload = (hosts: string[]) => hosts.forEach((h) => onHost(h, "rm -rf /srv/www/cgi-bin"));
/**
 * The slow download from the client through `vip` at `kibPerSecond` (20: 20 s), started in the
 * background and awaited with `transferDone`. It must outlast the waits before what it is to
 * survive.
 */
export const startTransfer = (vip: string, tag: string, kibPerSecond = 20) =>
  onHost(
    "client",
    `rm -f /tmp/${tag}.*; (curl -s -o /tmp/${tag}.out -w '%{http_code} %{size_download}' 'http://${vip}/cgi-bin/slow?${kibPerSecond * 1024}' > /tmp/${tag}.res 2>&1; echo $? > /tmp/${tag}.rc) >/dev/null 2>&1 &`,
  );
/** curl's exit status and `HTTP-code size` once transfer `tag` ended. */
export const transferDone = (tag: string) =>
  waitFor(`transfer ${tag} to end`, 120, () => {
    const rc = onHost("client", `cat /tmp/${tag}.rc 2>/dev/null || true`).trim();
    return rc ? { rc, result: onHost("client", `cat /tmp/${tag}.res`).trim() } : undefined;
  });
/** The backend (address) serving transfer `tag`'s established connection, as director `h` sees it. */
export const servingBackend = (h: string, vip: string, tag: string) => {
  const client = labHost(labStatus(), "client").lanAddress;
  const cut = "--- serving ---";
  // What the last look saw while the transfer ran: kept for the error if it ends unseen.
  let seen = "";
  return waitFor("the transfer's connection on the director", 30, () => {
    // One probe per host a look: the director's connections and VIP, the client's transfer and ARP entry.
    const [conns, addr] = onHost(h, `ipvsadm -L -n -c | tail -n +3; echo ${cut}; ip -o addr show to ${vip}`).split(`${cut}\n`);
    const lines = conns.trim().split("\n");
    const fields = lines.map((l) => l.trim().split(/\s+/));
    const rs = fields.find((f) => f[2] === "ESTABLISHED" && f[3]?.startsWith(`${client}:`))?.[5]?.split(":")[0];
    if (rs) return rs;
    const [rc, res, arp] = onHost(
      "client",
      `cat /tmp/${tag}.rc 2>/dev/null; echo ${cut}; cat /tmp/${tag}.res 2>/dev/null; echo ${cut}; ip neigh show ${vip}`,
    )
      .split(`${cut}\n`)
      .map((x) => x.trim());
    // Say why, when it never shows: the transfer ended (how), or where the VIP is.
    if (rc) throw new Error(`the transfer ended with curl exit ${rc} (${res}) before its connection showed; last look: ${seen || "none"}`);
    seen =
      `${vip} on ${h}: ${addr.trim() || "absent"}; client's ARP: ${arp}; ` +
      `${h}'s connections: ${lines.slice(0, 5).join(" | ") || "none"}`;
    throw new Error(`no connection yet; ${seen}`);
  });
};
