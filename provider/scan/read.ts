// What `pulumi-lvs scan` reads from a host: the provider's own transaction read (the same
// parsers, the same lock, the same trust rules), plus the few things only a scanner asks for:
// every route of the main table, packet-marking rules that are not ours, and the operator's own
// keepalived files (not pulumi-lvs's), whole. Nothing is written: the transaction's decision is "nothing".
import { KEEPALIVED_DIR, named, q, snapshotRead } from "../remote/commands";
import { namedSections } from "../remote/parsers";
import { parseSnapshot } from "../holds/snapshot";
import { Snapshot } from "../holds/plan";
import { Host } from "../remote/ssh";
import { ConfFile, parseConf, vrrpAddresses } from "./keepalived-conf";

/** One host as the scanner sees it. */
export interface HostRead {
  /** user@host:port, as the connection names it. */
  target: string;
  snapshot: Snapshot;
  /** `ip -o route show table main` lines, both families. */
  routes: string[];
  /** Rules that mark packets (nftables `meta mark set`, iptables `-j MARK`), as the host printed them. */
  markRules: string[];
  /** keepalived's files that are not ours (every *.conf under /etc/keepalived but KEEPALIVED_DIR), parsed, by path. */
  keepalivedFiles: ConfFile[];
  /** Addresses in their `virtual_ipaddress` and `virtual_ipaddress_excluded` blocks (VRRP carries them). */
  vrrpAddresses: string[];
}

/** The sysctls a scan reads: ARP and reverse-path filtering of every interface, forwarding, IPVS expiry. */
export const SCAN_SYSCTLS = [
  "net.ipv4.conf.*.arp_ignore",
  "net.ipv4.conf.*.arp_announce",
  "net.ipv4.conf.*.rp_filter",
  "net.ipv4.conf.*.accept_redirects",
  "net.ipv6.conf.*.accept_redirects",
  "net.ipv4.ip_forward",
  "net.ipv6.conf.all.forwarding",
  "net.ipv4.vs.expire_nodest_conn",
  "net.ipv4.vs.expire_quiescent_template",
];

/** keepalived's configuration files other than ours (pulumi-lvs writes only under KEEPALIVED_DIR). */
const THEIR_KEEPALIVED = `find /etc/keepalived -type f -name '*.conf' ! -path ${q(`${KEEPALIVED_DIR}/*`)} 2>/dev/null | sort`;
/** Starts each file in the kaconf section, followed by its path; each line of the file follows with one space before it. */
export const FILE_MARK = "--- pulumi-lvs file ---";

/** The read, in named sections (one round trip). */
export function scanRead(): string {
  return [
    snapshotRead({ preflight: false, keepalived: true, sysctls: SCAN_SYSCTLS, routes: [], files: [], prep: true }),
    named("marks"),
    "nft list ruleset 2>/dev/null | grep -E 'mark set' | sed 's/^[[:space:]]*//' || true",
    "{ iptables-save -t mangle; ip6tables-save -t mangle; } 2>/dev/null | grep -E -- '-j MARK' || true",
    named("kaconf"),
    // Indented by one space, a file's line can never be taken for a marker (of a file, or of a section).
    `${THEIR_KEEPALIVED} | while IFS= read -r f; do echo ${q(FILE_MARK)} "$f"; awk '{ print " " $0 }' "$f"; done 2>/dev/null || true`,
  ].join("\n");
}

const lines = (s: string | undefined) =>
  (s ?? "")
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);

/** Parses what scanRead printed. */
export function parseScan(target: string, out: string): HostRead {
  const s = namedSections(out);
  const files = keepalivedFiles(s.kaconf);
  return {
    target,
    snapshot: parseSnapshot(out),
    routes: [...lines(s.gateways4), ...lines(s.gateways6)],
    markRules: lines(s.marks),
    keepalivedFiles: files,
    vrrpAddresses: vrrpAddresses(files),
  };
}

/** The kaconf section: each file's path on its marker line, then its lines (one space before each). */
function keepalivedFiles(section: string | undefined): ConfFile[] {
  const out: { path: string; lines: string[] }[] = [];
  for (const line of (section ?? "").replace(/\n$/, "").split("\n")) {
    if (line.startsWith(`${FILE_MARK} `)) out.push({ path: line.slice(FILE_MARK.length + 1), lines: [] });
    else out[out.length - 1]?.lines.push(line.slice(1));
  }
  return out.map((f) => parseConf(f.path, f.lines.join("\n")));
}

/** Reads one host under its lock, writing nothing. */
export async function readHost(host: Host): Promise<HostRead> {
  return parseScan(host.target, await host.readOnce(scanRead(), "pulumi-lvs scan (read only)"));
}
