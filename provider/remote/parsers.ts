// Parsers of ipvsadm, ip and sysctl output: the live state that read() and
// refresh compare with the program. Tested with output captured from real hosts
// (test/lab/captured, made by test/lab/capture.sh).
import {
  Destination,
  DestinationCounters,
  IpvsTimeouts,
  Persistence,
  SCHED_FLAGS,
  ServiceKey,
  VirtualService,
  serviceKeyString,
} from "../model";
import { SECTION } from "./commands";

export interface LiveDestination extends Destination, DestinationCounters {}
export interface LiveService extends VirtualService {
  destinations: LiveDestination[];
  /** Anything else on the -A line we do not model (--pe): kept so we never misreport it. */
  extra: string[];
}
/** The IPVS table keyed by serviceKeyString ("tcp/VIP:port", "fwmark/1"). */
export type IpvsTable = Map<string, LiveService>;

const FORWARDING = { "-g": "direct", "-i": "tunnel", "-m": "masquerade" } as const;
const PROTOCOL = { "-t": "tcp", "-u": "udp", "--sctp-service": "sctp" } as const;

function splitHostPort(s: string): { address: string; port: number } {
  const i = s.lastIndexOf(":");
  return { address: s.slice(0, i).replace(/^\[|\]$/g, ""), port: Number(s.slice(i + 1)) };
}

/** Reads the flag/value pairs of one `ipvsadm -S -n` line. */
function flags(line: string): Map<string, string> {
  const words = line.trim().split(/\s+/);
  const m = new Map<string, string>();
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    const next = words[i + 1];
    if (next !== undefined && !next.startsWith("-")) {
      m.set(w, next);
      i++;
    } else m.set(w, "");
  }
  return m;
}

function protoAndKey(f: Map<string, string>): ServiceKey | undefined {
  for (const [flag, protocol] of Object.entries(PROTOCOL)) {
    const v = f.get(flag);
    if (v) return { ...splitHostPort(v), protocol };
  }
  const mark = f.get("-f");
  if (mark) return { fwmark: Number(mark), family: f.has("-6") ? "ipv6" : "ipv4", protocol: "tcp" };
  return undefined;
}

/**
 * Parses `ipvsadm -S -n` (the rule form ipvsadm -R reads back). Thresholds are absent from
 * this form; mergeThresholds() adds them from `ipvsadm -L -n --thresholds`.
 */
export function parseIpvsSave(out: string): IpvsTable {
  const table: IpvsTable = new Map();
  for (const line of out.split("\n")) {
    const f = flags(line);
    if (f.has("-A")) {
      const key = protoAndKey(f);
      if (!key) continue;
      let persistence: Persistence | undefined;
      if (f.has("-p")) {
        const netmask = f.get("-M");
        persistence = { timeout: Number(f.get("-p")), ...(netmask && netmask !== "255.255.255.255" ? { netmask } : {}) };
      }
      const known = new Set(["-A", "-t", "-u", "--sctp-service", "-f", "-6", "-s", "-p", "-M", "-o", "-b"]);
      const extra = [...f].filter(([k]) => !known.has(k)).map(([k, v]) => (v ? `${k} ${v}` : k));
      const flagList = (f.get("-b") ?? "").split(",").filter(Boolean);
      // Flags we do not model (the kernel's sched-flag-3) are extra, so they are never misreported.
      extra.push(...flagList.filter((x) => !(SCHED_FLAGS as readonly string[]).includes(x)).map((x) => `-b ${x}`));
      const schedulerFlags = flagList
        .filter((x): x is (typeof SCHED_FLAGS)[number] => (SCHED_FLAGS as readonly string[]).includes(x))
        .sort();
      table.set(serviceKeyString(key), {
        ...key,
        scheduler: (f.get("-s") ?? "wlc") as VirtualService["scheduler"],
        persistence,
        ...(schedulerFlags.length ? { schedulerFlags } : {}),
        ...(f.has("-o") ? { onePacket: true } : {}),
        destinations: [],
        extra,
      });
    } else if (f.has("-a")) {
      const key = protoAndKey(f);
      const svc = key && table.get(serviceKeyString(key));
      if (!svc) continue;
      const fwd = (Object.keys(FORWARDING) as (keyof typeof FORWARDING)[]).find((k) => f.has(k)) ?? "-g";
      const tunnelType = f.get("--tun-type") as Destination["tunnelType"];
      svc.destinations.push({
        ...splitHostPort(f.get("-r") ?? ""),
        forwarding: FORWARDING[fwd],
        ...(tunnelType && tunnelType !== "ipip" ? { tunnelType } : {}),
        ...(f.get("--tun-port") ? { tunnelPort: Number(f.get("--tun-port")) } : {}),
        weight: Number(f.get("-w") ?? 1),
        activeConn: 0,
        inactConn: 0,
      });
    }
  }
  return table;
}

/**
 * Adds thresholds and connection counters from `ipvsadm -L -n --thresholds`:
 *   TCP  198.51.100.100:80 wrr
 *     -> 198.51.100.11:80             100        10         0          0
 * (columns: Uthreshold Lthreshold ActiveConn InActConn). 0 means "no threshold".
 */
export function mergeThresholds(table: IpvsTable, out: string): IpvsTable {
  let current: LiveService | undefined;
  for (const line of out.split("\n")) {
    const svc = line.match(/^(TCP|UDP|SCTP)\s+(\S+)\s/);
    if (svc) {
      current = table.get(serviceKeyString({ ...splitHostPort(svc[2]), protocol: svc[1].toLowerCase() as "tcp" | "udp" | "sctp" }));
      continue;
    }
    const fwm = line.match(/^FWM\s+(\d+)\s+(IPv6\s)?/);
    if (fwm) {
      current = table.get(serviceKeyString({ fwmark: Number(fwm[1]), family: fwm[2] ? "ipv6" : "ipv4", protocol: "tcp" }));
      continue;
    }
    const dst = line.match(/^\s+->\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$/);
    if (dst && current) {
      const { address, port } = splitHostPort(dst[1]);
      const d = current.destinations.find((x) => x.address === address && x.port === port);
      if (!d) continue;
      const [u, l, active, inact] = dst.slice(2).map(Number);
      if (u) d.upperThreshold = u;
      if (l) d.lowerThreshold = l;
      d.activeConn = active;
      d.inactConn = inact;
    }
  }
  return table;
}

export interface InterfaceAddress {
  dev: string;
  address: string;
  prefix: number;
}

/**
 * Parses `ip -o addr show`: "2: eth1    inet 198.51.100.10/24 brd ... scope global eth1\ ..." and
 * "2: eth1    inet6 2001:db8:100::10/64 scope global nodad \ ...".
 */
export function parseIpAddr(out: string): InterfaceAddress[] {
  const result: InterfaceAddress[] = [];
  for (const line of out.split("\n")) {
    const m = line.match(/^\d+:\s+([^\s@]+)(?:@\S+)?\s+inet6?\s+([0-9a-f.:]+)\/(\d+)/);
    if (m) result.push({ dev: m[1], address: m[2], prefix: Number(m[3]) });
  }
  return result;
}

/** Parses `echo /sys/class/net/*`: the device names. */
export function parseDevices(out: string): string[] {
  return out
    .split(/\s+/)
    .filter((w) => w.startsWith("/sys/class/net/") && !w.endsWith("*"))
    .map((w) => w.slice("/sys/class/net/".length));
}

/** Parses `ip -o link show`: "7: tunl0@NONE: <NOARP,UP,LOWER_UP> mtu 1480 ..." -> device -> up. */
export function parseLinks(out: string): Record<string, boolean> {
  const r: Record<string, boolean> = {};
  for (const line of out.split("\n")) {
    const m = line.match(/^\d+:\s+([^\s@:]+)(?:@[^\s:]+)?:\s+<([^>]*)>/);
    if (m) r[m[1]] = m[2].split(",").includes("UP");
  }
  return r;
}

/** Parses `ip -o route show` lines with a gateway: "198.51.100.0/24 via 203.0.113.1 dev eth1 ..." -> network -> gateway. */
export function parseGateways(out: string): Record<string, string> {
  const r: Record<string, string> = {};
  for (const line of out.split("\n")) {
    const m = line.match(/^(\S+)\s+via\s+(\S+)\s/);
    if (m) r[m[1]] = m[2];
  }
  return r;
}

/** Parses `ip fou show`: "port 6080 gue" -> the GUE ports. */
export function parseFou(out: string): number[] {
  return [...out.matchAll(/^port (\d+) gue/gm)].map((m) => Number(m[1]));
}

/** Parses `ipvsadm -L --timeout`: "Timeout (tcp tcpfin udp): 900 120 300". */
export function parseTimeouts(out: string): Required<IpvsTimeouts> | undefined {
  const m = out.match(/Timeout \(tcp tcpfin udp\):\s+(\d+)\s+(\d+)\s+(\d+)/);
  return m ? { tcp: Number(m[1]), tcpFin: Number(m[2]), udp: Number(m[3]) } : undefined;
}

/** Parses `ip -o -4 route get ADDR`: "198.51.100.100 dev eth1 src 198.51.100.10 uid 0 \    cache". */
export function parseRouteDev(out: string): string | undefined {
  return out.match(/\sdev\s+(\S+)/)?.[1];
}

/** Parses the key=value lines of commands.net.readSysctls(); a key the kernel lacks reads as undefined. */
export function parseSysctls(out: string): Record<string, number | undefined> {
  const r: Record<string, number | undefined> = {};
  for (const line of out.split("\n")) {
    const i = line.indexOf("=");
    if (i <= 0) continue;
    const v = line.slice(i + 1).trim();
    r[line.slice(0, i).trim()] = v === "" ? undefined : Number(v);
  }
  return r;
}

/** Splits the output of commands.snapshotRead() into its named sections. */
export function namedSections(out: string): Record<string, string> {
  const r: Record<string, string> = {};
  let name = "";
  for (const line of out.split("\n")) {
    if (line.startsWith(`${SECTION} `)) {
      name = line.slice(SECTION.length + 1);
      r[name] = "";
    } else if (name) r[name] += line + "\n";
  }
  return r;
}

/** `ADDR dev DEV ...` lines of the routes section: address -> device. */
export function parseRoutes(out: string): Record<string, string | undefined> {
  const r: Record<string, string | undefined> = {};
  for (const line of out.split("\n")) {
    const [addr, ...rest] = line.trim().split(/\s+/);
    if (addr) r[addr] = parseRouteDev(` ${rest.join(" ")}`);
  }
  return r;
}

/** `sha256sum` lines: path -> hash. */
export function parseHashes(out: string): Record<string, string> {
  const r: Record<string, string> = {};
  for (const line of out.split("\n")) {
    const m = line.match(/^([0-9a-f]{64})\s+\*?(.+)$/);
    if (m) r[m[2]] = m[1];
  }
  return r;
}

/**
 * Parses `ipvsadm -L --daemon`: one line per running sync daemon,
 *   master sync daemon (mcast=eth1, syncid=51)
 */
export function parseDaemons(out: string): Partial<Record<"master" | "backup", { dev: string; syncId: number }>> {
  const r: Partial<Record<"master" | "backup", { dev: string; syncId: number }>> = {};
  for (const line of out.split("\n")) {
    const m = line.match(/^(master|backup) sync daemon \(mcast=([^,\s)]+),\s*syncid=(\d+)/);
    if (m) r[m[1] as "master" | "backup"] = { dev: m[2], syncId: Number(m[3]) };
  }
  return r;
}
