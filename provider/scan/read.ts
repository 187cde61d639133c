// What `pulumi-lvs scan` reads from a host: the provider's own transaction read (the same
// parsers, the same lock, the same trust rules), plus the few things only a scanner asks for:
// every route of the main table, packet-marking rules that are not ours, and what keepalived's
// own files (not pulumi-lvs's) run. Nothing is written: the transaction's decision is "nothing".
import { KEEPALIVED_DIR, SECTION, q, snapshotRead } from "../remote/commands";
import { namedSections } from "../remote/parsers";
import { parseSnapshot } from "../holds/snapshot";
import { Snapshot } from "../holds/plan";
import { Host } from "../remote/ssh";

/** One host as the scanner sees it. */
export interface HostRead {
  /** user@host:port, as the connection names it. */
  target: string;
  snapshot: Snapshot;
  /** `ip -o route show table main` lines, both families. */
  routes: string[];
  /** Rules that mark packets (nftables `meta mark set`, iptables `-j MARK`), as the host printed them. */
  markRules: string[];
  /** `virtual_server ADDR PORT` / `virtual_server fwmark N` lines of keepalived files that are not ours. */
  keepalivedServices: string[];
  /** Addresses in `virtual_ipaddress` blocks of keepalived files that are not ours (VRRP carries them). */
  vrrpAddresses: string[];
}

/** The sysctls a scan reads: ARP and reverse-path filtering of every interface, forwarding, IPVS expiry. */
export const SCAN_SYSCTLS = [
  "net.ipv4.conf.*.arp_ignore",
  "net.ipv4.conf.*.arp_announce",
  "net.ipv4.conf.*.rp_filter",
  "net.ipv4.ip_forward",
  "net.ipv6.conf.all.forwarding",
  "net.ipv4.vs.expire_nodest_conn",
  "net.ipv4.vs.expire_quiescent_template",
];

const named = (name: string) => `echo ${q(`${SECTION} ${name}`)}`;
/** keepalived's configuration files other than ours (pulumi-lvs writes only under KEEPALIVED_DIR). */
const THEIR_KEEPALIVED = `find /etc/keepalived -name '*.conf' ! -path ${q(`${KEEPALIVED_DIR}/*`)} 2>/dev/null`;

/** The read, in named sections (one round trip). */
export function scanRead(): string {
  return [
    snapshotRead({ preflight: false, keepalived: true, sysctls: SCAN_SYSCTLS, routes: [], files: [], prep: true }),
    named("marks"),
    "nft list ruleset 2>/dev/null | grep -E 'mark set' | sed 's/^[[:space:]]*//' || true",
    "{ iptables-save -t mangle; ip6tables-save -t mangle; } 2>/dev/null | grep -E -- '-j MARK' || true",
    named("kaservices"),
    `for f in $(${THEIR_KEEPALIVED}); do grep -hE '^[[:space:]]*virtual_server[[:space:]]' "$f"; done 2>/dev/null || true`,
    named("kavips"),
    `for f in $(${THEIR_KEEPALIVED}); do awk '/virtual_ipaddress[[:space:]]*\\{/{f=1;next} f&&/\\}/{f=0} f{print $1}' "$f"; done 2>/dev/null || true`,
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
  return {
    target,
    snapshot: parseSnapshot(out),
    routes: [...lines(s.gateways4), ...lines(s.gateways6)],
    markRules: lines(s.marks),
    keepalivedServices: lines(s.kaservices).map((l) => l.replace(/\s*\{.*$/, "").replace(/\s+/g, " ")),
    vrrpAddresses: lines(s.kavips).map((a) => a.replace(/\/\d+$/, "")),
  };
}

/** Reads one host under its lock, writing nothing. */
export async function readHost(host: Host): Promise<HostRead> {
  const { read } = await host.transaction(scanRead(), () => undefined, "pulumi-lvs scan (read only)");
  return parseScan(host.target, read);
}
