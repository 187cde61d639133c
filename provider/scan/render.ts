// The scanned resources as a program: TypeScript on the npm package, or YAML on the provider
// plugin. Every resource is written with `adopt: "own"`, so the first `up` takes over what is
// there without changing it and a later `destroy` removes it. Secrets are never written: a key
// is read from its file when the program runs, a password comes from the stack's secret config.
// A service keepalived runs from the operator's own files comes last, commented out, below the
// one line that says how to hand it over to pulumi-lvs.
import { Declared, Scanned } from "./scan";

/** How the program reaches one host: what the scan was given, without the secrets themselves. */
export interface HostRef {
  host: string;
  port: number;
  user: string;
  /** A private key file, read by the program when it runs. */
  keyPath?: string;
  /** Log in with a password from the stack's secret config `password`. */
  password?: boolean;
  agent?: boolean;
  knownHostsPath?: string;
  hostKey?: string;
  proxy?: { host: string; port: number; user: string };
  /** user@host:port, as the scan's notes name it. */
  target: string;
}

export interface Program {
  /** The Pulumi project's name. */
  name: string;
  /** Index 0: the director; i: the i-th --backend. */
  hosts: HostRef[];
  scanned: Scanned;
  /** A first comment line: where and when it was scanned. */
  header: string;
}

const TYPE = (t: Declared["type"]) => `lvs:index:${t}`;
const comment = (lines: string[], indent = "") => lines.map((l) => `${indent}// ${l}`.trimEnd());
const hash = (lines: string[], indent = "") => lines.map((l) => `${indent}# ${l}`.trimEnd());
const connectionName = (i: number) => (i === 0 ? "director" : `backend${i}`);

/** The connection's fields as they go into the program (secret ones by reference). */
function connectionFields(h: HostRef, ref: { key: string; password: string; agent: string }): Record<string, unknown> {
  return {
    host: h.host,
    port: h.port,
    user: h.user,
    ...(h.keyPath ? { privateKey: ref.key } : {}),
    ...(h.password ? { password: ref.password } : {}),
    ...(h.agent ? { agentSocketPath: ref.agent } : {}),
    ...(h.knownHostsPath ? { knownHostsPath: h.knownHostsPath } : {}),
    ...(h.hostKey ? { hostKey: h.hostKey } : {}),
    ...(h.proxy ? { proxy: { ...h.proxy, ...(h.knownHostsPath ? { knownHostsPath: h.knownHostsPath } : {}) } } : {}),
  };
}

/** The one line above a service keepalived runs, printed commented out. */
const handOver = (k: Scanned["keepalived"][number]) => {
  const a = k.service.args;
  const head = a.fwmark !== undefined ? `fwmark ${a.fwmark}` : `${a.address} ${a.port}`;
  return `keepalived runs ${k.service.name}: remove its \`virtual_server ${head}\` block from ${k.file} and reload keepalived, then uncomment this (pulumi-lvs then runs it from its own file)`;
};

const notTranslated = (s: Scanned) =>
  s.notTranslated.length
    ? ["Not translated (found, and left as it is):", ...s.notTranslated.map((n) => `  - ${n}`)]
    : ["Everything found was translated."];

/** The program as TypeScript (a Pulumi project's index.ts, on the pulumi-lvs npm package). */
export function renderTypeScript(p: Program): string {
  const keys = [...new Set(p.hosts.map((h) => h.keyPath).filter((k): k is string => !!k))];
  const keyVar = (h: HostRef) => (keys.length > 1 ? `privateKey${keys.indexOf(h.keyPath!) + 1}` : "privateKey");
  const lines = [
    ...comment([
      p.header,
      'Every resource adopts what it finds (`adopt: "own"`): the first `up` changes nothing; `destroy` removes it all.',
    ]),
    ...(keys.length ? ['import * as fs from "fs";'] : []),
    ...(p.hosts.some((h) => h.password) ? ['import * as pulumi from "@pulumi/pulumi";'] : []),
    'import * as lvs from "pulumi-lvs";',
    "",
    ...keys.map((k, i) => `const privateKey${keys.length > 1 ? i + 1 : ""} = fs.readFileSync(${JSON.stringify(k)}, "utf8");`),
    ...(p.hosts.some((h) => h.password) ? ['const password = new pulumi.Config().requireSecret("password");'] : []),
  ];
  const used = new Set([0, ...p.scanned.resources.map((r) => r.host)]);
  for (const [i, h] of p.hosts.entries()) {
    if (!used.has(i)) continue;
    const fields = connectionFields(h, { key: `@@${keyVar(h)}@@`, password: "@@password@@", agent: "@@process.env.SSH_AUTH_SOCK@@" });
    lines.push(`const ${connectionName(i)}Connection = ${tsValue(fields)};`);
  }
  const vars = new Map<string, string>();
  const counters: Record<string, number> = {};
  const resource = (r: Declared) => {
    const base = {
      DirectorHost: "director",
      VirtualService: "service",
      RealServer: "realServer",
      DrRealServerHost: "backend",
      TunRealServerHost: "backend",
      NatRealServerHost: "backend",
    }[r.type];
    const v = `${base}${(counters[base] = (counters[base] ?? 0) + 1)}`;
    vars.set(r.name, v);
    const args = r.service
      ? { service: `@@${vars.get(r.service)}@@`, ...r.args, adopt: "own" }
      : { connection: `@@${connectionName(r.host)}Connection@@`, ...r.args, adopt: "own" };
    const deps = r.dependsOn.map((d) => vars.get(d)).filter(Boolean);
    const opts = deps.length ? `, { dependsOn: [${deps.join(", ")}] }` : "";
    return [
      "",
      ...comment(r.notes),
      `${r.type === "RealServer" ? "" : `const ${v} = `}new lvs.${r.type}(${JSON.stringify(r.name)}, ${tsValue(args)}${opts});`,
    ];
  };
  for (const r of p.scanned.resources) lines.push(...resource(r));
  for (const k of p.scanned.keepalived)
    lines.push("", ...comment([handOver(k)]), ...comment([k.service, ...k.dests].flatMap(resource).slice(1)));
  return [...lines, "", ...comment(notTranslated(p.scanned)), ""].join("\n");
}

/** A value as TypeScript source; `@@expr@@` strings are expressions. */
function tsValue(v: unknown): string {
  if (typeof v === "string") return /^@@.*@@$/.test(v) ? v.slice(2, -2) : JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(tsValue).join(", ")}]`;
  if (v && typeof v === "object")
    return `{ ${Object.entries(v)
      .map(([k, x]) =>
        typeof x === "string" && x === `@@${k}@@` ? k : `${/^[A-Za-z_]\w*$/.test(k) ? k : JSON.stringify(k)}: ${tsValue(x)}`,
      )
      .join(", ")} }`;
  return JSON.stringify(v);
}

/** The program as YAML (a whole Pulumi.yaml, on the provider plugin pulumi-resource-lvs). */
export function renderYaml(p: Program): string {
  const keys = [...new Set(p.hosts.map((h) => h.keyPath).filter((k): k is string => !!k))];
  const keyVar = (h: HostRef) => (keys.length > 1 ? `privateKey${keys.indexOf(h.keyPath!) + 1}` : "privateKey");
  const lines = [
    ...hash([p.header, 'Every resource adopts what it finds (adopt: "own"): the first `up` changes nothing; `destroy` removes it all.']),
    `name: ${p.name}`,
    "runtime: yaml",
    ...(p.hosts.some((h) => h.password) ? ["config:", "  password: { type: string, secret: true }"] : []),
    ...(keys.length
      ? [
          "variables:",
          ...keys.flatMap((k, i) => [`  privateKey${keys.length > 1 ? i + 1 : ""}:`, `    fn::readFile: ${JSON.stringify(k)}`]),
        ]
      : []),
    "resources:",
  ];
  const kept = p.scanned.keepalived.flatMap((k) => [k.service, ...k.dests]);
  const byName = new Map([...p.scanned.resources, ...kept].map((r) => [r.name, r]));
  const resource = (r: Declared) => {
    const conn = connectionFields(p.hosts[r.host], {
      key: `\${${keyVar(p.hosts[r.host])}}`,
      password: "${password}",
      agent: process.env.SSH_AUTH_SOCK ?? "",
    });
    const svc = r.service ? byName.get(r.service)!.args : undefined;
    const key =
      svc &&
      (svc.fwmark !== undefined
        ? { fwmark: svc.fwmark, ...(svc.family ? { family: svc.family } : {}) }
        : { address: svc.address, port: svc.port, protocol: svc.protocol });
    const props = { connection: conn, ...(key ? { service: key } : {}), ...r.args, adopt: "own" };
    const deps = [...(r.service ? [r.service] : []), ...r.dependsOn];
    return [
      ...hash(r.notes, "  "),
      `  ${r.name}:`,
      `    type: ${TYPE(r.type)}`,
      "    properties:",
      ...Object.entries(props).map(([k, v]) => `      ${k}: ${JSON.stringify(v)}`),
      ...(deps.length ? ["    options:", `      dependsOn: [${deps.map((d) => JSON.stringify(`\${${d}}`)).join(", ")}]`] : []),
    ];
  };
  for (const r of p.scanned.resources) lines.push(...resource(r));
  for (const k of p.scanned.keepalived) lines.push(...hash([handOver(k)], "  "), ...hash([k.service, ...k.dests].flatMap(resource)));
  return [...lines, ...hash(notTranslated(p.scanned)), ""].join("\n");
}

/**
 * The program as the root program's stack config (Pulumi.<stack>.yaml), when what was found is
 * one LvsDrCluster: one VIP and service on one director, each real server with its host settings
 * as the cluster declares them. Otherwise throws, naming what does not fit.
 */
export function renderConfig(p: Program): string {
  const rs = p.scanned.resources;
  const only = (t: Declared["type"]) => rs.filter((r) => r.type === t);
  const [director, service, dests] = [only("DirectorHost"), only("VirtualService"), only("RealServer")];
  const hosts = rs.filter((r) => r.type.endsWith("RealServerHost"));
  const misfit = [
    ...(director.length !== 1 ? [`${director.length} DirectorHosts (one VIP interface is one cluster)`] : []),
    ...(service.length !== 1 || service[0].args.fwmark !== undefined
      ? [`${service.length} services (a cluster has one address service)`]
      : []),
    ...(director[0] && Object.keys(director[0].args).some((k) => !["vips", "interface"].includes(k))
      ? ["director settings a cluster does not take"]
      : []),
    ...(director[0] && (director[0].args.vips as string[]).length !== 1 ? ["more than one VIP"] : []),
    ...(new Set(dests.map((d) => d.args.forwarding ?? "direct")).size > 1 ? ["real servers with different forwarding"] : []),
    ...(dests.some((d) => d.args.upperThreshold || d.args.lowerThreshold || d.args.port) ? ["thresholds or mapped ports"] : []),
    ...(hosts.length !== dests.length ? ["real servers whose host settings were not all read (one --backend each)"] : []),
    ...(hosts.some((h) => h.type !== "NatRealServerHost" && (h.args.arpIgnore !== 1 || h.args.arpAnnounce !== 2))
      ? ["ARP settings other than 1 and 2"]
      : []),
    ...(p.scanned.notTranslated.length ? ["things not translated (see --format ts)"] : []),
    ...(p.scanned.keepalived.length ? ["services keepalived runs (see --format ts)"] : []),
  ];
  if (misfit.length)
    throw new Error(`the scan does not fit one LvsDrCluster (the root program's config): ${misfit.join("; ")}; use --format ts or yaml`);
  const conn = (h: HostRef) => ({
    host: h.host,
    port: h.port,
    user: h.user,
    ...(h.keyPath ? { privateKeyPath: h.keyPath } : {}),
    ...(h.knownHostsPath ? { knownHostsPath: h.knownHostsPath } : {}),
    ...(h.hostKey ? { hostKey: h.hostKey } : {}),
  });
  const s = service[0].args;
  const first = dests[0]?.args ?? {};
  const nat = hosts.find((h) => h.type === "NatRealServerHost");
  const values: Record<string, unknown> = {
    vip: s.address,
    port: s.port,
    protocol: s.protocol,
    scheduler: s.scheduler,
    ...(s.persistence ? { persistence: s.persistence } : {}),
    ...(s.schedulerFlags ? { schedulerFlags: s.schedulerFlags } : {}),
    ...(s.onePacket ? { onePacket: true } : {}),
    ...(first.forwarding ? { forwarding: first.forwarding } : {}),
    ...(first.tunnelType ? { tunnelType: first.tunnelType } : {}),
    ...(first.tunnelPort ? { tunnelPort: first.tunnelPort } : {}),
    ...(nat ? { natGateway: nat.args.director, natClients: nat.args.clients } : {}),
    interface: director[0].args.interface,
    adopt: "own",
    director: conn(p.hosts[0]),
    backends: dests.map((d) => {
      const host = hosts.find((h) => h.name === d.dependsOn[0])!;
      return { address: d.args.address, weight: d.args.weight, connection: conn(p.hosts[host.host]) };
    }),
  };
  return [
    ...hash([p.header, "The root program's stack config: save as Pulumi.<stack>.yaml beside its Pulumi.yaml."]),
    "config:",
    ...Object.entries(values).map(([k, v]) => `  pulumi-lvs:${k}: ${JSON.stringify(v)}`),
    "",
  ].join("\n");
}
