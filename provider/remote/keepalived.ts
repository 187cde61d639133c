// keepalived as the runtime of what pulumi-lvs declares but cannot do itself: a VRRP instance
// moves a director's VIPs to the standby when the active one dies; a health-checked service
// (a virtual_server block) follows its backends' health. Like the boot files, our keepalived
// files are derived from the host's ledger: one file per VRRP instance or health-checked
// service in a directory of ours, included by one line in the user's keepalived.conf. A change
// is staged and passed through `keepalived --config-test` before anything on the host changes.
import {
  DestValue,
  Entry,
  EntryOf,
  KeepalivedState,
  Ledger,
  ServiceValue,
  VrrpValue,
  byKeepalived,
  desiredValue,
  keys,
  liveTarget,
} from "../ledger";
import { HealthCheck, familyOf, vipPrefix } from "../model";
import { KEEPALIVED_DIR, ipvs, keepalived } from "./commands";
import { sha256 } from "./boot";

/** keepalived as read by a transaction (commands.keepalived.readState). */
export interface KeepalivedLive extends KeepalivedState {
  include: boolean;
}

export function parseKeepalivedState(out: string): KeepalivedLive | undefined {
  if (!out.trim()) return undefined;
  const words = new Map(out.split("\n").map((l) => [l.split(" ")[0], l.split(" ").slice(1).join(" ").trim()] as const));
  return {
    installed: words.has("installed"),
    enabled: words.get("enabled") === "enabled",
    active: words.get("active") === "active",
    conf: (words.get("conf") as KeepalivedState["conf"]) ?? "absent",
    include: words.has("include"),
  };
}

const HEADER = "# Written by pulumi-lvs from what the stack declares; edits are reported by `pulumi refresh` and undone by `pulumi up`.\n";
const LB_KIND = { direct: "DR", tunnel: "TUN", masquerade: "NAT" } as const;
const indent = (n: number, lines: string[]) => lines.map((l) => " ".repeat(n) + l);

/** File name (in KEEPALIVED_DIR) of an entry's block: vrrp-DEV-ID, vs-PROTO-ADDRESS-PORT, vs-fwmark[6]-MARK. */
export function fileOf(e: EntryOf<"vrrp" | "service">): string {
  if (e.kind === "vrrp") return `vrrp-${e.where.dev}-${e.where.virtualRouterId}.conf`;
  const s = e.where;
  if (s.fwmark !== undefined) return `vs-${s.family === "ipv6" ? "fwmark6" : "fwmark"}-${s.fwmark}.conf`;
  return `vs-${s.protocol}-${s.address}-${s.port}.conf`;
}

/** The VRRP instance's name: unique per device and router id, as keepalived requires. */
export const instanceName = (v: Pick<VrrpValue, "dev" | "virtualRouterId">) =>
  `pulumi_lvs_${v.dev.replace(/[^A-Za-z0-9]/g, "_")}_${v.virtualRouterId}`;

export function renderVrrp(v: VrrpValue): string {
  const v4 = v.vips.filter((a) => familyOf(a) === "ipv4");
  const v6 = v.vips.filter((a) => familyOf(a) === "ipv6");
  const vipBlock = (name: string, vips: string[]) => [
    `${name} {`,
    ...indent(
      4,
      vips.map((a) => `${a}/${vipPrefix(a)} dev ${v.dev}`),
    ),
    "}",
  ];
  return (
    HEADER +
    [
      `vrrp_instance ${instanceName(v)} {`,
      // Every director starts as BACKUP: the election (priority) decides, and nopreempt needs it.
      ...indent(4, [
        "state BACKUP",
        `interface ${v.dev}`,
        `virtual_router_id ${v.virtualRouterId}`,
        `priority ${v.priority}`,
        `advert_int ${v.advertInterval}`,
        ...(v.preempt ? (v.preemptDelay ? [`preempt_delay ${v.preemptDelay}`] : []) : ["nopreempt"]),
        ...(v.unicastPeers?.length ? ["unicast_peer {", ...indent(4, v.unicastPeers), "}"] : []),
        ...(v.authPass ? ["authentication {", "    auth_type PASS", `    auth_pass ${v.authPass}`, "}"] : []),
        // One VRRP instance speaks one family (its adverts): with IPv4 VIPs, the IPv6 ones move
        // with the instance as excluded addresses (keepalived's config test refuses a mix).
        ...vipBlock("virtual_ipaddress", v4.length ? v4 : v6),
        ...(v4.length && v6.length ? vipBlock("virtual_ipaddress_excluded", v6) : []),
      ]),
      "}",
    ].join("\n") +
    "\n"
  );
}

function checker(c: HealthCheck, port: number): string[] {
  const common = [`connect_port ${port}`, `connect_timeout ${c.timeout}`];
  const tail = [`retry ${c.retries}`, "delay_before_retry 1", `delay_loop ${c.interval}`];
  switch (c.type) {
    case "tcp":
      return ["TCP_CHECK {", ...indent(4, [...common, ...tail]), "}"];
    case "http":
    case "https":
      return [
        `${c.type === "http" ? "HTTP_GET" : "SSL_GET"} {`,
        ...indent(4, ["url {", `    path ${c.path}`, `    status_code ${c.status}`, "}", ...common, ...tail]),
        "}",
      ];
    case "command":
      return ["MISC_CHECK {", ...indent(4, [`misc_path "${c.command}"`, `misc_timeout ${c.timeout}`, ...tail]), "}"];
  }
}

/** How keepalived reaches one backend: a tunnel of another type than ipip says so (`lvs_method TUN type ...`). */
function method(d: DestValue["dest"], kind: DestValue["dest"]["forwarding"]): string[] {
  if (d.forwarding === "tunnel" && d.tunnelType && d.tunnelType !== "ipip")
    return [`lvs_method TUN type ${d.tunnelType}${d.tunnelType === "gue" ? ` port ${d.tunnelPort}` : ""}`];
  return d.forwarding !== kind ? [`lvs_method ${LB_KIND[d.forwarding]}`] : [];
}

/** The service's own line and what only address services have: `virtual_server fwmark N` has no protocol. */
const serviceHead = (s: ServiceValue) =>
  s.fwmark !== undefined
    ? { open: `virtual_server fwmark ${s.fwmark} {`, lines: s.family === "ipv6" ? ["ip_family inet6"] : [] }
    : { open: `virtual_server ${s.address} ${s.port} {`, lines: [] };

/** A health-checked service and its destinations (a draining one already at weight 0). */
export function renderService(s: ServiceValue, dests: DestValue[]): string {
  const check = s.healthCheck!;
  const kind = dests[0]?.dest.forwarding ?? "direct";
  const head = serviceHead(s);
  return (
    HEADER +
    [
      head.open,
      ...indent(4, [
        ...head.lines,
        `delay_loop ${check.interval}`,
        `lb_algo ${s.scheduler}`,
        // Scheduler flags (ipvsadm -b) and one-packet scheduling (-o) are keywords of their own.
        ...(s.schedulerFlags ?? []),
        ...(s.onePacket ? ["ops"] : []),
        // A backend gets traffic only once its first check passed (also after a restart or reboot).
        "alpha",
        `lb_kind ${LB_KIND[kind]}`,
        ...(s.fwmark === undefined ? [`protocol ${s.protocol.toUpperCase()}`] : []),
        ...(s.persistence ? [`persistence_timeout ${s.persistence.timeout}`] : []),
        ...(s.persistence?.netmask ? [`persistence_granularity ${s.persistence.netmask}`] : []),
        ...(s.sorryServer ? [`sorry_server ${s.sorryServer.address} ${s.sorryServer.port}`] : []),
        ...dests.flatMap(({ dest: d, healthCheck }) => {
          const c = healthCheck ?? check;
          return [
            `real_server ${d.address} ${d.port} {`,
            ...indent(4, [
              `weight ${d.weight}`,
              ...method(d, kind),
              ...(d.upperThreshold ? [`uthreshold ${d.upperThreshold}`] : []),
              ...(d.lowerThreshold ? [`lthreshold ${d.lowerThreshold}`] : []),
              ...(c.onFailure === "weight0" ? ["inhibit_on_failure"] : []),
              // A fwmark service's backends have no port (0): its check names one (validated).
              ...checker(c, c.port ?? check.port ?? d.port),
            ]),
            "}",
          ];
        }),
      ]),
      "}",
    ].join("\n") +
    "\n"
  );
}

/** The file that only switches script security on: with nothing else, keepalived has nothing to run. */
const SCRIPT_SECURITY_FILE = "00-script-security.conf";
/**
 * keepalived runs MISC_CHECK commands only with script security on (it refuses them otherwise);
 * as root, which is what a check that probes a backend needs.
 */
const SCRIPT_SECURITY = `${HEADER}global_defs {\n    enable_script_security\n    script_user root\n}\n`;

/**
 * A keepalived that starts takes part in its instances' first election: it is let finish (this
 * director holds the VIPs, or about three adverts passed without, so another holds them) before
 * the transaction ends. So a standby created after its primary (LvsDrCluster orders them) finds
 * the primary already master and stays backup, whatever `preempt` says.
 */
function settle(after: Ledger): string[] {
  return Object.values(after.entries).flatMap((e) => {
    const v = e.kind === "vrrp" ? desiredValue(e) : undefined;
    return v ? [keepalived.settle(v.dev, v.vips[0], 3 * v.advertInterval + 2)] : [];
  });
}

/** The content of every file of ours for `ledger`: file name -> text. */
export function keepalivedFiles(ledger: Ledger): Record<string, string> {
  const out: Record<string, string> = {};
  const entries = Object.values(ledger.entries);
  const checks = entries.flatMap((e) => {
    const w = e.kind === "service" || e.kind === "dest" ? desiredValue(e) : undefined;
    return w ? [w.healthCheck] : [];
  });
  if (checks.some((c) => c?.type === "command")) out[SCRIPT_SECURITY_FILE] = SCRIPT_SECURITY;
  for (const e of entries) {
    if (e.kind === "vrrp") {
      const v = desiredValue(e);
      if (v) out[fileOf(e)] = renderVrrp(v);
    }
    const s = e.kind === "service" ? desiredValue(e) : undefined;
    if (e.kind !== "service" || !s?.healthCheck) continue;
    const dests = destsOf(entries, s);
    // keepalived refuses a virtual_server without real servers: the file waits for the first one.
    if (dests.length) out[fileOf(e)] = renderService(s, dests);
  }
  return out;
}

/** The destinations of service `s` as its block has them (a draining one at weight 0), by address. */
const destsOf = (entries: Entry[], s: ServiceValue): DestValue[] =>
  entries
    .flatMap((d) => {
      const v = d.kind === "dest" && keys.service(d.where.service) === keys.service(s) ? liveTarget(d) : undefined;
      return v ? [v] : [];
    })
    .sort((a, b) => `${a.dest.address}:${a.dest.port}`.localeCompare(`${b.dest.address}:${b.dest.port}`));

/** Names of our files whose content on the host differs from `want` (or that should not be there). */
export function changedFiles(want: Record<string, string>, have: Record<string, string>): string[] {
  const haveNames = Object.keys(have)
    .filter((p) => p.startsWith(`${KEEPALIVED_DIR}/`))
    .map((p) => p.slice(KEEPALIVED_DIR.length + 1));
  return [
    ...Object.entries(want)
      .filter(([n, text]) => have[`${KEEPALIVED_DIR}/${n}`] !== sha256(text))
      .map(([n]) => n),
    ...haveNames.filter((n) => !(n in want)),
  ];
}

/** Whether the host has the file of ours for a health-checked service (`have`: path -> hash, as read). */
const fileOnHost = (have: Record<string, string>, e: EntryOf<"service">): boolean => !!have[`${KEEPALIVED_DIR}/${fileOf(e)}`];

/**
 * Services whose health check was turned off: keepalived deletes them on the reload that drops
 * their file, so once it did, ipvsadm adds them back with their real servers (a gap of about a
 * second). A draining destination comes back at weight 0.
 */
function handedBack(before: Ledger, after: Ledger, have: Record<string, string>): string[] {
  const out: string[] = [];
  for (const [key, e] of Object.entries(after.entries)) {
    const was = before.entries[key];
    const s = e.kind === "service" ? desiredValue(e) : undefined;
    if (!s || s.healthCheck) continue;
    if (!byKeepalived(was) || !fileOnHost(have, was)) continue;
    out.push(ipvs.waitGone(s), `${ipvs.addService(s)} 2>/dev/null || ${ipvs.editService(s)}`);
    for (const d of Object.values(after.entries)) {
      const v = d.kind === "dest" ? liveTarget(d) : undefined;
      if (!v || keys.service(v.service) !== key) continue;
      out.push(`${ipvs.addDestination(v.service, v.dest)} 2>/dev/null || ${ipvs.editDestination(v.service, v.dest)}`);
    }
  }
  return out;
}

/**
 * Services whose health check was turned on (or adopted with one) while ipvsadm's service is in
 * the kernel: deleted just before keepalived reads their new file, so keepalived creates them
 * itself. Left in place, keepalived (with `alpha`) counts their real servers down until a check
 * passes and so never removes one whose checks fail from the start: a dead backend would keep
 * its traffic. New connections wait (and packets of open ones are held back) until each
 * backend's first check passes, as after a restart.
 */
function handedOver(before: Ledger, after: Ledger, want: Record<string, string>, have: Record<string, string>): string[] {
  return Object.entries(after.entries).flatMap(([key, e]) => {
    if (!byKeepalived(e) || !want[fileOf(e)]) return [];
    // Not when keepalived runs it already: by the last run, or by one that died after our file
    // went in. (A file of ours deleted by hand while keepalived runs its service is drift.)
    const running = byKeepalived(before.entries[key]) || fileOnHost(have, e);
    return running ? [] : [ipvs.deleteServiceIfThere(e.where)];
  });
}

/** Whether a set of our files gives keepalived something to run (a VRRP instance or a virtual_server). */
export const hasWork = (files: Record<string, string>): boolean => Object.keys(files).some((n) => n !== SCRIPT_SECURITY_FILE);

/**
 * What a transaction runs for keepalived: `before` (install, stage and config-test: a failure
 * there stops the script before any change), `after` (files in place, include line, enable,
 * start or reload; or, when nothing of ours is left for keepalived to run, everything put back
 * as it was found).
 *
 * "Nothing to run" is not only the last holder leaving: a health-checked service without a real
 * server yet (its virtual_server waits for the first one) or whose last one was removed leaves
 * our include with no file to match, and keepalived then refuses to start ("has no
 * configuration to run"). So keepalived is used only while our files hold a block; until then
 * (and after) it is left, or put back, as found, though the ledger's holders stay.
 */
export function keepalivedCommands(
  before: Ledger,
  after: Ledger,
  live: KeepalivedLive | undefined,
  have: Record<string, string>,
  restart: boolean,
): { before: string[]; after: string[] } {
  const entry = after.entries[keys.keepalived()];
  const held = !!entry && Object.keys(entry.holders).length > 0;
  const want = keepalivedFiles(after);
  if (held && hasWork(want)) {
    const changed = changedFiles(want, have);
    const l = live ?? { installed: false, enabled: false, active: false, conf: "absent" as const, include: false };
    const pre = [...(l.installed ? [] : [keepalived.install()]), ...(changed.length ? keepalived.stageAndTest(want) : [])];
    const starts = !l.active || restart;
    const post = [
      ...(changed.length ? keepalived.installStaged() : []),
      ...(l.include ? [] : keepalived.addInclude(l.conf)),
      ...(l.enabled ? [] : [keepalived.enable()]),
      ...handedOver(before, after, want, have),
      ...(!l.active ? [keepalived.start()] : restart ? [keepalived.restart()] : changed.length || !l.include ? [keepalived.reload()] : []),
      ...(starts ? settle(after) : []),
      ...handedBack(before, after, have),
    ];
    return { before: pre, after: post };
  }
  const recorded = entry ?? before.entries[keys.keepalived()];
  const ours = live?.include || Object.keys(have).some((p) => p.startsWith(`${KEEPALIVED_DIR}/`));
  // Nothing of ours on the host: nothing to put back (a holder whose service has no real server yet).
  if (!ours && (held || !recorded)) return { before: [], after: handedBack(before, after, have) };
  // Nothing of ours left to run (or files of ours are left over from an interrupted run): put keepalived back.
  const original = (recorded?.kind === "keepalived" ? recorded.original : null) ?? {
    installed: true,
    enabled: true,
    active: !!live?.active,
    conf: "newline",
  };
  return {
    before: [],
    after: [
      ...keepalived.removeInclude(original.conf),
      ...(original.active ? (live?.active ? [keepalived.reload()] : []) : live?.active ? [keepalived.stop()] : []),
      ...handedBack(before, after, have),
      ...(original.enabled ? [] : live?.enabled ? [keepalived.disable()] : []),
      // Removed only once no holder is left: the next real server would need it again.
      ...(original.installed || held ? [] : [keepalived.purge()]),
    ],
  };
}
