// From what a scan read on a director and its real servers, the resources that declare exactly
// that: a DirectorHost for the VIPs on each interface, a VirtualService per IPVS service, a
// RealServer per destination (or, `inlined`, each service's destinations inline), and each
// backend's host settings (DR, TUN or NAT). Pure, so it is unit-tested on output captured from
// the lab. What it cannot declare without changing a host, or cannot know, goes to
// `notTranslated` with the reason: never dropped in silence, never guessed.
// A service keepalived runs from the operator's own files is declared only when its block
// translates exactly (keepalived-translate.ts), and then apart, in `keepalived`.
import { LiveDestination, LiveService } from "../remote/parsers";
import { KERNEL_TIMEOUTS, familyOf, serviceKeyString, vipPrefix } from "../model";
import { keys, Ledger } from "../ledger";
import { HostRead } from "./read";
import { mayRun, text, virtualServers } from "./keepalived-conf";
import { Translated, translateVirtualServer } from "./keepalived-translate";

export type ResourceType =
  "DirectorHost" | "VirtualService" | "RealServer" | "DrRealServerHost" | "TunRealServerHost" | "NatRealServerHost";

/** One resource of the scanned program. */
export interface Declared {
  type: ResourceType;
  name: string;
  /** Whose connection it uses: 0 the director, i the i-th backend (1-based). */
  host: number;
  /** Its inputs, as the model takes them (no connection: the renderer adds it). */
  args: Record<string, unknown>;
  /** A RealServer's service: the name of its VirtualService. */
  service?: string;
  dependsOn: string[];
  /** What the reader should know about it (a comment above it). */
  notes: string[];
}
export interface Scanned {
  resources: Declared[];
  /**
   * Services keepalived runs from the operator's own files, whose blocks translate exactly: for
   * after the block is removed from `file` (until then, declaring them would run them twice).
   * The renderers print them commented out.
   */
  keepalived: { file: string; service: Declared; dests: Declared[] }[];
  /** What was found and is not declared, each with why. */
  notTranslated: string[];
}

const TUNNEL_DEVICES: Record<string, "ipip" | "gre"> = { tunl0: "ipip", ip6tnl0: "ipip", gre0: "gre" };

/** A resource name from parts: letters, digits and dashes. */
const nameOf = (...parts: (string | number)[]) =>
  parts
    .join("-")
    .replace(/[^A-Za-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
const serviceName = (s: LiveService) =>
  s.fwmark !== undefined ? nameOf(s.family === "ipv6" ? "fwmark6" : "fwmark", s.fwmark) : nameOf(s.protocol, s.address!, s.port!);

/** Who already holds an object in the host's ledger: a scan leaves such objects to their stacks. */
const holders = (ledger: Ledger, key: string) => Object.keys(ledger.entries[key]?.holders ?? {});

export function scan(director: HostRead, backends: HostRead[]): Scanned {
  const out: Scanned = { resources: [], keepalived: [], notTranslated: [] };
  const d = director.snapshot;
  if (!d.ipvs) {
    out.notTranslated.push(`${director.target}: the ip_vs module is not loaded, so it has no IPVS services to scan`);
    return out;
  }
  const translated = new Map<LiveService, Translated>();
  const services = [...d.ipvs.values()].filter((s) => {
    const why = whyNot(director, s) ?? keepalivedOf(director, s);
    if (typeof why === "string") out.notTranslated.push(why);
    else if (why) translated.set(s, why);
    return typeof why !== "string";
  });
  for (const v of virtualServers(director.keepalivedFiles))
    if (![...d.ipvs.values()].some((s) => mayRun(v.block, director.keepalivedFiles, s)))
      out.notTranslated.push(
        `keepalived's ${text(v.block)} (${v.file.path}): IPVS runs no such service (is keepalived running?); not declared`,
      );
  const vipHolder = declareDirectors(director, services, out);
  const backendOf = (address: string) => backends.findIndex((b) => b.snapshot.addrs.some((a) => a.address === address && a.dev !== "lo"));
  const hostNames = new Map<number, string>();
  for (const [i, b] of backends.entries()) {
    const dests = services.flatMap((s) => s.destinations.filter((x) => backendOf(x.address) === i).map((x) => ({ s, x })));
    const r = declareBackend(b, i + 1, dests, director, out.notTranslated);
    if (r) {
      out.resources.push(r);
      hostNames.set(i, r.name);
    }
  }
  for (const s of services) {
    const t = translated.get(s);
    const name = serviceName(s);
    const vipHost = s.address !== undefined ? vipHolder.get(s.address) : undefined;
    const service: Declared = {
      type: "VirtualService",
      name,
      host: 0,
      args: t?.service ?? serviceArgs(s),
      dependsOn: vipHost ? [vipHost] : [],
      notes: [...serviceNotes(director, s), ...(t ? checkNotes(t) : [])],
    };
    const dests = (t?.dests ?? s.destinations.map((x) => destArgs(s, x))).map((args): Declared => {
      const [address, port] = [String(args.address), (args.port as number | undefined) ?? s.port ?? 0];
      const b = backendOf(address);
      return {
        type: "RealServer",
        name: nameOf(name, address, ...(port !== s.port ? [port] : [])),
        host: 0,
        service: name,
        args,
        dependsOn: b >= 0 && hostNames.has(b) ? [hostNames.get(b)!] : [],
        notes: b < 0 ? [`no --backend reaches ${address}: its host settings were not read, so none are declared`] : [],
      };
    });
    if (t) out.keepalived.push({ file: t.file, service, dests });
    else out.resources.push(service, ...dests);
  }
  for (const [i, b] of backends.entries())
    if (!services.some((s) => s.destinations.some((x) => backendOf(x.address) === i)))
      out.notTranslated.push(`${b.target}: none of its addresses is a real server of a scanned service; nothing declared for it`);
  return out;
}

/**
 * The same scan with each service's backends inline (`realServers`) rather than one RealServer
 * each: a large pool is then one resource and one transaction (what `scan --inline` writes). The
 * service waits for every backend host its RealServers waited for, and carries their notes.
 */
export function inlined(scanned: Scanned): Scanned {
  const fold = (service: Declared, dests: Declared[]): Declared =>
    dests.length
      ? {
          ...service,
          args: { ...service.args, realServers: dests.map((d) => d.args) },
          dependsOn: [...new Set([...service.dependsOn, ...dests.flatMap((d) => d.dependsOn)])],
          notes: [...service.notes, ...dests.flatMap((d) => d.notes.map((n) => `realServers ${String(d.args.address)}: ${n}`))],
        }
      : service;
  const destsOf = (name: string) => scanned.resources.filter((r) => r.type === "RealServer" && r.service === name);
  return {
    ...scanned,
    resources: scanned.resources
      .filter((r) => r.type !== "RealServer")
      .map((r) => (r.type === "VirtualService" ? fold(r, destsOf(r.name)) : r)),
    keepalived: scanned.keepalived.map((k) => ({ ...k, service: fold(k.service, k.dests), dests: [] })),
  };
}

/** Why a service cannot be declared as it is, or undefined when it can. */
function whyNot(director: HostRead, s: LiveService): string | undefined {
  const key = serviceKeyString(s);
  const by = holders(director.snapshot.ledger, keys.service(s));
  if (by.length) return `IPVS service ${key}: already managed by pulumi-lvs (held by ${by.join(", ")}); left to that stack`;
  if (s.extra.length)
    return `IPVS service ${key}: it has ${s.extra.join(" ")}, which pulumi-lvs does not model; left as it is, with its real servers`;
  return undefined;
}

/**
 * What the operator's keepalived files make of a service: nothing (keepalived does not run it),
 * why it is left to keepalived, or its block's exact translation (which must also be what IPVS runs).
 */
function keepalivedOf(director: HostRead, s: LiveService): string | Translated | undefined {
  const files = director.keepalivedFiles;
  const blocks = virtualServers(files).filter((v) => mayRun(v.block, files, s));
  if (!blocks.length) return undefined;
  const t = blocks.length === 1 ? translateVirtualServer(blocks[0].block, blocks[0].file) : { reasons: ["more than one block may run it"] };
  const reasons = "reasons" in t ? t.reasons : differs(s, t);
  if (!reasons.length) return t as Translated;
  const where = blocks.map((v) => `${text(v.block)} in ${v.file.path}`).join(", ");
  return `IPVS service ${serviceKeyString(s)}: keepalived runs it (${where}); its block has no exact translation, so it and its real servers are left to keepalived: ${reasons.join("; ")}`;
}

/** Where IPVS runs other than the block says (a file edited since keepalived last read it); weights aside, which checks change. */
function differs(s: LiveService, t: Translated): string[] {
  const same = (a: object, b: object) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
  const { healthCheck: _c, sorryServer, ...block } = t.service;
  const out = same(block, serviceArgs(s)) ? [] : [`IPVS runs it as ${JSON.stringify(serviceArgs(s))}, not as the block says`];
  for (const x of s.destinations) {
    const { weight: _w, ...live } = destArgs(s, x);
    const listed = t.dests.find((d) => d.address === x.address && ((d.port as number | undefined) ?? s.port ?? 0) === x.port);
    const { weight: _v, healthCheck: _h, ...mine } = listed ?? {};
    if (!listed && x.address !== (sorryServer as { address?: string } | undefined)?.address)
      out.push(`IPVS has real server ${x.address}:${x.port}, which the block does not list`);
    else if (listed && !same(live, mine)) out.push(`IPVS has real server ${x.address} as ${JSON.stringify(live)}, not as the block says`);
  }
  return out;
}

/** A command check runs as root under pulumi-lvs (its script_user), which keepalived's own default may not be. */
const checkNotes = (t: Translated): string[] =>
  [t.service, ...t.dests].some((a) => (a.healthCheck as { type?: string } | undefined)?.type === "command")
    ? [
        "its command check will run as root (pulumi-lvs sets script_user root); keepalived's default is keepalived_script where that user exists",
      ]
    : [];

/** One DirectorHost per interface that holds VIPs of the scanned services; returns which one holds each VIP. */
function declareDirectors(director: HostRead, services: LiveService[], out: Scanned): Map<string, string> {
  const d = director.snapshot;
  const vips = [...new Set(services.map((s) => s.address).filter((a): a is string => a !== undefined))];
  const byDev = new Map<string, string[]>();
  for (const vip of vips) {
    const on = d.addrs.find((a) => a.address === vip && a.prefix === vipPrefix(vip));
    const held = on && holders(d.ledger, keys.addr(on));
    if (director.vrrpAddresses.includes(vip))
      out.notTranslated.push(`VIP ${vip}: keepalived's VRRP carries it (virtual_ipaddress in /etc/keepalived); not declared`);
    else if (held?.length)
      out.notTranslated.push(`VIP ${vip}: already managed by pulumi-lvs (held by ${held.join(", ")}); left to that stack`);
    else if (!on || on.dev === "lo")
      out.notTranslated.push(
        `VIP ${vip}: not on any interface of the director as /${vipPrefix(vip)}; its services are declared, the address is not`,
      );
    else byDev.set(on.dev, [...(byDev.get(on.dev) ?? []), vip]);
  }
  const masquerade = services.some((s) => s.destinations.some((x) => x.forwarding === "masquerade"));
  const holder = new Map<string, string>();
  for (const [i, [dev, list]] of [...byDev].entries()) {
    const name = byDev.size > 1 ? nameOf("director", dev) : "director";
    for (const v of list) holder.set(v, name);
    out.resources.push({
      type: "DirectorHost",
      name,
      host: 0,
      args: { vips: list, interface: dev, ...(i === 0 ? directorSettings(director, masquerade) : {}) },
      dependsOn: [],
      notes: list.flatMap((v) => hostRouteNote(director, v, dev)),
    });
  }
  return holder;
}

/** The walkthrough's `route add -host $VIP dev eth0:0`: part of the VIP, not a route to declare. */
function hostRouteNote(director: HostRead, vip: string, dev: string): string[] {
  const route = director.routes.find((r) => r.split(/\s+/)[0] === vip);
  if (!route) return [];
  return /\svia\s/.test(route) || !route.includes(` dev ${dev}`)
    ? [`a route to ${vip} other than the VIP's own is left as it is: ${route}`]
    : [`the host route \`${route.replace(/\s+/g, " ")}\` is the VIP's own (the walkthrough's route add -host): owned with it`];
}

/** Director settings that differ from a fresh kernel: forwarding (for NAT), IPVS expiry, timeouts. */
function directorSettings(director: HostRead, masquerade: boolean): Record<string, unknown> {
  const { sysctls, timeouts } = director.snapshot;
  const changed =
    timeouts && (Object.keys(KERNEL_TIMEOUTS) as (keyof typeof KERNEL_TIMEOUTS)[]).filter((k) => timeouts[k] !== KERNEL_TIMEOUTS[k]);
  return {
    ...(masquerade && sysctls["net.ipv4.ip_forward"] === 1 ? { ipForward: true } : {}),
    ...(sysctls["net.ipv4.vs.expire_nodest_conn"] === 1 ? { expireNodestConn: true } : {}),
    ...(sysctls["net.ipv4.vs.expire_quiescent_template"] === 1 ? { expireQuiescentTemplate: true } : {}),
    ...(changed?.length ? { ipvsTimeouts: Object.fromEntries(changed.map((k) => [k, timeouts![k]])) } : {}),
  };
}

function serviceArgs(s: LiveService): Record<string, unknown> {
  return {
    ...(s.fwmark !== undefined
      ? { fwmark: s.fwmark, ...(s.family === "ipv6" ? { family: "ipv6" } : {}) }
      : { address: s.address, port: s.port, protocol: s.protocol }),
    scheduler: s.scheduler,
    ...(s.persistence ? { persistence: s.persistence } : {}),
    ...(s.schedulerFlags?.length ? { schedulerFlags: s.schedulerFlags } : {}),
    ...(s.onePacket ? { onePacket: true } : {}),
  };
}

/** A firewall-mark service's packets are marked by rules the scan does not take over: shown beside it. */
function serviceNotes(director: HostRead, s: LiveService): string[] {
  const mark = s.fwmark;
  if (mark === undefined) return [];
  const forms = [String(mark), `0x${mark.toString(16)}`, `0x${mark.toString(16).padStart(8, "0")}`];
  const rules = director.markRules.filter((r) => forms.some((f) => new RegExp(`(mark set|--set-x?mark) ${f}(\\b|/)`).test(r)));
  return rules.length
    ? [`its packets are marked by rules that are not pulumi-lvs's, left as they are:`, ...rules.map((r) => `  ${r}`)]
    : ["no rule marking its packets was found on the director (nftables, iptables)"];
}

function destArgs(s: LiveService, x: LiveDestination): Record<string, unknown> {
  return {
    address: x.address,
    ...(x.port !== (s.port ?? 0) ? { port: x.port } : {}),
    ...(x.forwarding !== "direct" ? { forwarding: x.forwarding } : {}),
    ...(x.tunnelType ? { tunnelType: x.tunnelType } : {}),
    ...(x.tunnelPort ? { tunnelPort: x.tunnelPort } : {}),
    weight: x.weight,
    ...(x.upperThreshold ? { upperThreshold: x.upperThreshold } : {}),
    ...(x.lowerThreshold ? { lowerThreshold: x.lowerThreshold } : {}),
  };
}

/** A backend's host settings, by how the director reaches it; undefined (and a note) when there is nothing to declare. */
function declareBackend(
  b: HostRead,
  index: number,
  dests: { s: LiveService; x: LiveDestination }[],
  director: HostRead,
  notes: string[],
): Declared | undefined {
  if (!dests.length) return undefined;
  const owned = Object.values(b.snapshot.ledger.entries).some((e) => Object.keys(e.holders).length);
  const address = dests[0].x.address;
  const name = nameOf("backend", address);
  if (owned)
    return void notes.push(`${b.target}: its host settings are already managed by pulumi-lvs (its ledger holds objects); not declared`);
  const ways = new Set(dests.map((d) => d.x.forwarding));
  if (ways.size > 1)
    return void notes.push(
      `${b.target}: reached by more than one forwarding method (${[...ways].join(", ")}); its host settings are not declared`,
    );
  const vips = [...new Set(dests.map((d) => d.s.address).filter((a): a is string => a !== undefined))];
  const way = [...ways][0];
  if (way === "masquerade") return natBackend(b, index, name, director, notes);
  const devOf = (v: string) => b.snapshot.addrs.find((a) => a.address === v && a.prefix === vipPrefix(v))?.dev;
  const found = vips.filter((v) => devOf(v));
  for (const v of vips.filter((v) => !devOf(v)))
    notes.push(`${b.target}: VIP ${v} is not on lo or a tunnel device (as /${vipPrefix(v)}); not declared there`);
  if (!found.length) return undefined;
  const devs = new Set(found.map(devOf));
  if (way === "direct") {
    if (devs.size > 1 || !devs.has("lo"))
      return void notes.push(`${b.target}: its VIPs are on ${[...devs].join(", ")}, not lo; not declared`);
    return { type: "DrRealServerHost", name, host: index, args: { vips: found, ...arp(b, "lo", found, notes) }, dependsOn: [], notes: [] };
  }
  const dev = [...devs][0]!;
  const tunnelType = dests[0].x.tunnelType ?? "ipip";
  if (devs.size > 1 || (TUNNEL_DEVICES[dev] ?? "") !== (tunnelType === "gue" ? "ipip" : tunnelType))
    return void notes.push(`${b.target}: its VIPs are on ${[...devs].join(", ")}, not the ${tunnelType} tunnel device; not declared`);
  return {
    type: "TunRealServerHost",
    name,
    host: index,
    args: {
      vips: found,
      ...(tunnelType !== "ipip" ? { tunnelType } : {}),
      ...(dests[0].x.tunnelPort ? { tunnelPort: dests[0].x.tunnelPort } : {}),
      ...arp(b, dev, found, notes),
    },
    dependsOn: [],
    notes: changes(
      b,
      [`net.ipv4.conf.${dev}.rp_filter`, "net.ipv4.conf.all.rp_filter"],
      "decapsulated packets come from clients the tunnel has no route back to",
    ),
  };
}

/** Settings the declared resource sets to 0 that the host has otherwise: the first `up` changes them, and says why. */
function changes(b: HostRead, keys: string[], why: string): string[] {
  return keys
    .filter((k) => (b.snapshot.sysctls[k] ?? 0) !== 0)
    .map((k) => `${b.target}: its first up sets ${k} to 0 (found ${b.snapshot.sysctls[k]}): ${why}`);
}

/** arpIgnore and arpAnnounce as found on `dev` and all (a host takes the higher); noted when they differ, since declaring them sets both. */
function arp(b: HostRead, dev: string, vips: string[], notes: string[]): Record<string, number> {
  if (!vips.some((v) => familyOf(v) === "ipv4")) return {};
  const value = (what: string) => {
    const [mine, all] = [b.snapshot.sysctls[`net.ipv4.conf.${dev}.${what}`] ?? 0, b.snapshot.sysctls[`net.ipv4.conf.all.${what}`] ?? 0];
    if (mine !== all)
      notes.push(
        `${b.target}: ${what} is ${mine} on ${dev} but ${all} on all; the program sets both to ${Math.max(mine, all)} (the value in effect)`,
      );
    return Math.max(mine, all);
  };
  return { arpIgnore: value("arp_ignore"), arpAnnounce: value("arp_announce") };
}

/** A NAT backend: its routes through one of the director's addresses are its clients. */
function natBackend(b: HostRead, index: number, name: string, director: HostRead, notes: string[]): Declared | undefined {
  const mine = new Set(director.snapshot.addrs.map((a) => a.address));
  const through = b.routes.map((r) => /^(\S+)\s+via\s+(\S+)/.exec(r)).filter((m): m is RegExpExecArray => !!m && mine.has(m[2]));
  const gateways = [...new Set(through.map((m) => m[2]))];
  if (gateways.length !== 1)
    return void notes.push(
      `${b.target}: a NAT backend needs its clients routed through the director; found ${gateways.length ? `routes through ${gateways.join(", ")}` : "none"}; not declared`,
    );
  return {
    type: "NatRealServerHost",
    name,
    host: index,
    args: { director: gateways[0], clients: through.map((m) => m[1]) },
    dependsOn: [],
    notes: changes(
      b,
      ["all", ...new Set(through.map((m) => /\sdev\s+(\S+)/.exec(m.input)?.[1]).filter((d): d is string => !!d))].map(
        (d) => `net.${familyOf(gateways[0]) === "ipv6" ? "ipv6" : "ipv4"}.conf.${d}.accept_redirects`,
      ),
      "a redirect from the director would route answers around it",
    ),
  };
}
