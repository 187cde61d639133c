// A keepalived `virtual_server` block (keepalived-conf.ts parses it) as the inputs of a
// VirtualService and its RealServers, when pulumi-lvs would make keepalived run exactly the same
// (remote/keepalived.ts renderService writes its own block for them); otherwise every keyword or
// value that stands in the way. Defaults are keepalived 2.2's (keepalived.conf(5), check_data.c).
import { RealServerArgs, SCHEDULERS, VirtualServiceArgs, familyOf } from "../model";
import { ConfFile, Statement, address, text } from "./keepalived-conf";

type Args = Record<string, unknown>;
/** A block whose every keyword has an exact pulumi-lvs equivalent: the inputs that make pulumi-lvs run the same. */
export interface Translated {
  /** VirtualService inputs (with healthCheck, sorryServer). */
  service: Args;
  /** RealServer inputs, in the block's order (a healthCheck where a real server's check differs from the service's). */
  dests: Args[];
  /** The file the block is in. */
  file: string;
}
/** The translation, or every keyword or value that has no exact equivalent. */
export type Translation = Translated | { reasons: string[] };

/** Settings keepalived takes from the virtual server, then the real server, then the checker (the most specific wins). */
type Inherited = Partial<Record<"delay_loop" | "connect_timeout" | "retry" | "delay_before_retry", number>> &
  Partial<Record<"alpha" | "inhibit_on_failure", boolean>>;
type Level = "virtual_server" | "real_server" | "checker";
/** Where keepalived takes each of them (2.2: check_parser.c, check_api.c): inhibit_on_failure is not a checker's. */
const INHERITED: Record<keyof Inherited, Level[]> = {
  delay_loop: ["virtual_server", "real_server", "checker"],
  connect_timeout: ["virtual_server", "real_server", "checker"],
  retry: ["virtual_server", "real_server", "checker"],
  delay_before_retry: ["virtual_server", "real_server", "checker"],
  alpha: ["virtual_server", "real_server", "checker"],
  inhibit_on_failure: ["virtual_server", "real_server"],
};
const CHECKERS = { TCP_CHECK: "tcp", HTTP_GET: "http", SSL_GET: "https", MISC_CHECK: "command" } as const;
const METHODS = { DR: "direct", TUN: "tunnel", NAT: "masquerade" } as const;
const FLAGS = ["sh-port", "sh-fallback", "mh-port", "mh-fallback"];
const FAMILIES: Record<string, string> = { inet: "ipv4", inet6: "ipv6" };

/** Reads values, and collects a reason for each one that cannot be read exactly. */
function reader() {
  const reasons: string[] = [];
  const no = (s: Statement, why = " has no exact pulumi-lvs equivalent") => void reasons.push(`line ${s.line}: ${text(s)}${why}`);
  const one = (s: Statement): string | undefined => (s.words.length === 2 ? s.words[1] : no(s, ": pulumi-lvs takes one value here"));
  const int = (s: Statement, min = 0, max = 2147483647, i = 1): number | undefined => {
    const v = s.words[i];
    if (s.words.length === i + 1 && /^\d+$/.test(v) && +v >= min && +v <= max) return +v;
    no(s, `: pulumi-lvs takes one whole number ${min}-${max} here`);
  };
  /** A switch: `alpha` alone is on; a virtual server's takes no value, a real server's or checker's on|off|true|false|yes|no. */
  const bool = (s: Statement, level: Level): boolean | undefined => {
    if (s.words.length === 1) return true;
    const v = s.words[1].toLowerCase();
    if (level !== "virtual_server" && s.words.length === 2 && ["on", "true", "yes", "off", "false", "no"].includes(v))
      return ["on", "true", "yes"].includes(v);
    no(s, ": not read as a plain switch");
  };
  /** An inherited keyword at `level`: stored in `into`; false when `s` is not one. */
  const inherited = (s: Statement, level: Level, into: Inherited): boolean => {
    const k = s.words[0] as keyof Inherited;
    if (!INHERITED[k]?.includes(level)) return false;
    const v = k === "alpha" || k === "inhibit_on_failure" ? bool(s, level) : int(s);
    if (v !== undefined) (into as Record<string, unknown>)[k] = v;
    return true;
  };
  return { reasons, no, one, int, bool, inherited };
}
type Reader = ReturnType<typeof reader>;

/** `lb_kind`/`lvs_method` DR | NAT | TUN [type ipip|gre|gue port N]: forwarding, tunnelType, tunnelPort. */
function method(s: Statement, r: Reader): Args | undefined {
  const [, kind, ...rest] = s.words;
  const forwarding = METHODS[kind as keyof typeof METHODS];
  const tun = rest.join(" ").match(/^(?:type (ipip|gre|gue)(?: port (\d+))?)?$/);
  if (!forwarding || (rest.length && (kind !== "TUN" || !tun)) || (tun?.[1] === "gue") !== !!tun?.[2])
    return r.no(s, ": pulumi-lvs takes DR, NAT, or TUN with type ipip, gre or gue port N");
  const type = tun?.[1] && tun[1] !== "ipip" ? { tunnelType: tun[1] } : {};
  return { forwarding, ...type, ...(tun?.[2] ? { tunnelPort: Number(tun[2]) } : {}) };
}

/**
 * A `virtual_server` block as pulumi-lvs's inputs, when the block pulumi-lvs writes for them
 * (remote/keepalived.ts renderService) makes keepalived run the same: every keyword has an exact
 * equivalent, every keepalived default the block relies on is what pulumi-lvs writes, and the
 * model takes the result. Otherwise every keyword or value that stands in the way, by line.
 */
export function translateVirtualServer(block: Statement, file: ConfFile): Translation {
  const r = reader();
  r.reasons.push(...file.errors.map((e) => `${file.path} does not parse as keepalived reads it: ${e}`));
  const v = ownKeywords(block, r);
  const key = head(block, r);
  const fwmark = key?.fwmark !== undefined;
  if (!["tcp", "udp", "sctp"].includes(v.protocol) || (fwmark && v.protocol !== "tcp"))
    r.no(block, `: protocol ${v.protocol} (pulumi-lvs takes TCP, UDP or SCTP; TCP on a firewall-mark service)`);
  const found = v.reals.map((s) => realServer(s, { vs: v.inherited, forwarding: v.forwarding, port: fwmark ? 0 : key?.port }, r));
  if (!found.length) r.no(block, ": has no real_server");
  // A firewall-mark service's family: ip_family, else its real servers' (IPv4 when they differ).
  const families = new Set(found.map((f) => familyOf(String(f.dest.address))));
  const family = fwmark ? (v.ipFamily ?? (families.size === 1 ? [...families][0] : "ipv4")) : familyOf(key?.address ?? "");
  if (v.ipFamily && v.ipFamily !== family) r.no(block, ": its ip_family is not its address's");
  const checks = distribute(found);
  const service: Args = {
    ...(fwmark ? { fwmark: key!.fwmark, ...(family === "ipv6" ? { family } : {}) } : { ...key, protocol: v.protocol }),
    scheduler: v.scheduler,
    ...(v.timeout || v.granularity ? { persistence: persistence(v.timeout ?? 360, v.granularity) } : {}),
    ...(v.flags.length ? { schedulerFlags: [...new Set(v.flags)].sort() } : {}),
    ...(v.onePacket ? { onePacket: true } : {}),
    healthCheck: checks.service,
    ...(v.sorry ? { sorryServer: sorryServer(v.sorry, key?.port, r) } : {}),
  };
  const dests = found.map((f, i) => ({ ...f.dest, ...(checks.dests[i] ? { healthCheck: checks.dests[i] } : {}) }));
  if (r.reasons.length) return { reasons: r.reasons };
  const refused = modelRefuses(service, dests);
  return refused.length ? { reasons: refused } : { service, dests, file: file.path };
}

/** The virtual server's own keywords, with keepalived's defaults (scheduler wlc, NAT, TCP); its real servers as they are. */
function ownKeywords(block: Statement, r: Reader) {
  const v = {
    inherited: {} as Inherited,
    scheduler: "wlc",
    flags: [] as string[],
    onePacket: false,
    forwarding: { forwarding: "masquerade" } as Args,
    protocol: "tcp",
    timeout: undefined as number | undefined,
    granularity: undefined as string | undefined,
    ipFamily: undefined as string | undefined,
    sorry: undefined as Statement | undefined,
    reals: [] as Statement[],
  };
  for (const s of block.block ?? []) {
    const kw = s.words[0];
    if (r.inherited(s, "virtual_server", v.inherited)) continue;
    if (kw === "lb_algo" || kw === "lvs_sched") v.scheduler = scheduler(s, r) ?? v.scheduler;
    else if (kw === "ops" && s.words.length === 1) v.onePacket = true;
    else if (FLAGS.includes(kw) && s.words.length === 1) v.flags.push(kw);
    else if (kw === "lb_kind" || kw === "lvs_method") v.forwarding = method(s, r) ?? v.forwarding;
    else if (kw === "protocol") v.protocol = r.one(s)?.toLowerCase() ?? v.protocol;
    // Without a value, 6 minutes; a granularity alone makes the service persistent too (check_parser.c).
    else if (kw === "persistence_timeout") v.timeout = s.words.length === 1 ? 360 : r.int(s, 1, 2678400);
    else if (kw === "persistence_granularity") v.granularity = r.one(s);
    else if (kw === "ip_family")
      v.ipFamily = FAMILIES[s.words.length === 2 ? s.words[1] : ""] ?? r.no(s, ": pulumi-lvs takes inet or inet6 here");
    else if (kw === "sorry_server") v.sorry = s;
    else if (kw === "real_server") v.reals.push(s);
    else r.no(s);
  }
  return v;
}

const scheduler = (s: Statement, r: Reader) =>
  s.words.length === 2 && SCHEDULERS.includes(s.words[1] as never) ? s.words[1] : r.no(s, ": pulumi-lvs takes one IPVS scheduler here");

/** The service's key from `virtual_server ADDR PORT` / `virtual_server fwmark N`; a group has no equivalent. */
function head(block: Statement, r: Reader): { address?: string; port?: number; fwmark?: number } | undefined {
  const [, first, second] = block.words;
  if (first === "group") return r.no(block, ": a virtual_server_group has no pulumi-lvs equivalent");
  if (first === "fwmark") return { fwmark: r.int(block, 1, 4294967295, 2) };
  if (!address(first) || second === undefined) return r.no(block, ": pulumi-lvs takes an address and a port here");
  return { address: address(first), port: r.int(block, 1, 65535, 2) };
}

const persistence = (timeout: number, netmask: string | undefined) => ({
  timeout,
  ...(netmask && netmask !== "255.255.255.255" && netmask !== "128" ? { netmask } : {}),
});

/** `sorry_server ADDR [PORT]`: without a port (or port 0), keepalived takes the service's. */
function sorryServer(s: Statement, port: number | undefined, r: Reader): Args {
  const own = s.words.length === 3 && s.words[2] !== "0" ? r.int(s, 1, 65535, 2) : port;
  if (!address(s.words[1]) || s.words.length > 3) r.no(s, ": pulumi-lvs takes an address and a port here");
  return { address: address(s.words[1]), port: own };
}

/** One `real_server ADDR [PORT] { ... }`: RealServer inputs, and its one check as a full HealthCheck. */
function realServer(s: Statement, ctx: { vs: Inherited; forwarding: Args; port?: number }, r: Reader) {
  const rs: Inherited = {};
  let how = ctx.forwarding;
  const own: Args = { weight: 1 }; // keepalived's default weight
  const checkers: Statement[] = [];
  for (const x of s.block ?? []) {
    const kw = x.words[0];
    if (r.inherited(x, "real_server", rs)) continue;
    if (kw === "weight") own.weight = r.int(x, 0, 65535);
    else if (kw === "lvs_method") how = method(x, r) ?? how;
    else if (kw === "uthreshold" || kw === "lthreshold") {
      const t = r.int(x); // 0 is none, as in the model
      if (t) own[kw === "uthreshold" ? "upperThreshold" : "lowerThreshold"] = t;
    } else if (kw in CHECKERS) checkers.push(x);
    else r.no(x, /_CHECK$/.test(kw) ? ": pulumi-lvs has no such check" : undefined);
  }
  // Without a port (or port 0) keepalived takes the service's; a firewall-mark service's real servers have none.
  const port = s.words.length === 3 && s.words[2] !== "0" ? r.int(s, 1, 65535, 2) : ctx.port;
  if (!address(s.words[1]) || s.words.length > 3) r.no(s, ": pulumi-lvs takes an address and a port here");
  if (checkers.length !== 1)
    r.no(s, checkers.length ? ": has more than one check (pulumi-lvs runs one)" : ": has no check (pulumi-lvs checks every real server)");
  const { forwarding, ...tunnel } = how;
  // The shape scan.ts gives every RealServer: port and forwarding only where they are not the default.
  const dest: Args = {
    address: address(s.words[1]),
    ...(port !== ctx.port ? { port } : {}),
    ...(forwarding !== "direct" ? { forwarding } : {}),
    ...tunnel,
    ...own,
  };
  return { dest, port, check: checkers.length === 1 ? checker(checkers[0], { ...ctx, rs, port: port ?? 0 }, r) : undefined };
}

/**
 * One checker as a full HealthCheck, every value as keepalived resolves it (check_data.c): the
 * checker's own, else its real server's, else its virtual server's, else keepalived's default.
 */
function checker(s: Statement, ctx: { vs: Inherited; rs: Inherited; port: number }, r: Reader): Args {
  const type = CHECKERS[s.words[0] as keyof typeof CHECKERS];
  const web = type === "http" || type === "https";
  const c: Inherited = {};
  const own: { port?: number; command?: string; miscTimeout?: number; urls: Statement[] } = { urls: [] };
  if (s.words.length > 1) r.no(s, ": takes no value");
  for (const x of s.block ?? []) {
    const kw = x.words[0];
    // MISC_CHECK has no connection of its own: no connect_port, no connect_timeout.
    if ((type !== "command" || kw !== "connect_timeout") && r.inherited(x, "checker", c)) continue;
    if (kw === "connect_port" && type !== "command") own.port = r.int(x, 1, 65535);
    else if (kw === "nb_get_retry" && web) c.retry = r.int(x);
    else if (kw === "url" && web) own.urls.push(x);
    else if (kw === "misc_path" && type === "command") own.command = misc(x, r);
    else if (kw === "misc_timeout" && type === "command") own.miscTimeout = r.int(x);
    else r.no(x);
  }
  if (web && own.urls.length !== 1) r.no(s, `: checks ${own.urls.length} urls (pulumi-lvs checks one)`);
  if (type === "command" && !(s.block ?? []).some((x) => x.words[0] === "misc_path")) r.no(s, ": has no misc_path");
  const eff = <K extends keyof Inherited>(k: K) => c[k] ?? ctx.rs[k] ?? ctx.vs[k];
  if (!eff("alpha")) r.no(s, ": runs without alpha (pulumi-lvs writes alpha: a real server gets traffic once its first check passed)");
  const retryDelay = eff("delay_before_retry") ?? (web ? 3 : 1);
  if (retryDelay !== 1) r.no(s, `: waits ${retryDelay}s before a retry (delay_before_retry; pulumi-lvs writes 1)`);
  return {
    type,
    ...(web && own.urls.length === 1 ? url(own.urls[0], r) : {}),
    ...(type === "command" ? { command: own.command } : { port: own.port ?? ctx.port }),
    interval: eff("delay_loop") ?? 60,
    // A MISC_CHECK without misc_timeout (or 0) may run for its virtual server's delay_loop (check_misc.c).
    timeout: type === "command" ? own.miscTimeout || (ctx.vs.delay_loop ?? 60) : (eff("connect_timeout") ?? 5),
    retries: eff("retry") ?? (type === "command" ? 0 : 1),
    onFailure: (ctx.rs.inhibit_on_failure ?? ctx.vs.inhibit_on_failure) ? "weight0" : "remove",
  };
}

/** `misc_path "CMD ARGS"`: keepalived splits the quoted command into words itself; unquoted, it runs the first word only. */
const misc = (s: Statement, r: Reader) =>
  s.words.length === 2 ? s.words[1] : r.no(s, ": runs only its first word (the command needs quotes); pulumi-lvs runs the whole line");

/** `url { path P status_code S }`: keepalived takes any 2xx without status_code; pulumi-lvs one status. */
function url(s: Statement, r: Reader): Args {
  const u: Args = {};
  for (const x of s.block ?? []) {
    if (x.words[0] === "path") u.path = r.one(x);
    else if (x.words[0] === "status_code") u.status = r.int(x, 100, 599);
    else r.no(x);
  }
  if (!("path" in u)) r.no(s, ": has no path");
  if (!("status" in u)) r.no(s, ": has no status_code (keepalived then takes any 2xx; pulumi-lvs one status)");
  return u;
}

/**
 * The service's check and each real server's override where its check differs, the way
 * renderService reads them back: a check's port defaults to the service check's, then to the
 * real server's own (a port equal to that default is left out).
 */
function distribute(found: { port?: number; check?: Args }[]): { service?: Args; dests: (Args | undefined)[] } {
  const withoutPort = (c: Args, port: unknown) =>
    c.port === port ? Object.fromEntries(Object.entries(c).filter(([k]) => k !== "port")) : c;
  const first = found[0]?.check && withoutPort(found[0].check, found[0].port);
  const same = (a: Args, b: Args) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
  return {
    service: first,
    dests: found.map(({ port: own, check }) => {
      const port = first?.port ?? own;
      return check && first && !same(withoutPort(check, port), withoutPort(first, port)) ? withoutPort(check, port) : undefined;
    }),
  };
}

const SCANNED = { host: "scanned" }; // a placeholder: the model checks the rest; the program adds the real connection
/** What the model refuses in a translation (it would refuse the scanned program too). */
function modelRefuses(service: Args, dests: Args[]): string[] {
  const issues = (what: string, r: { error?: { issues: { path: PropertyKey[]; message: string }[] } }) =>
    (r.error?.issues ?? []).map((i) => `the model refuses ${what}: ${i.path.map(String).join(".")} ${i.message}`);
  const key =
    service.fwmark !== undefined
      ? { fwmark: service.fwmark, family: service.family }
      : { address: service.address, port: service.port, protocol: service.protocol };
  return [
    ...issues("the service", VirtualServiceArgs.safeParse({ connection: SCANNED, ...service })),
    ...dests.flatMap((d) =>
      issues(`real server ${String(d.address)}`, RealServerArgs.safeParse({ connection: SCANNED, service: key, ...d })),
    ),
  ];
}
