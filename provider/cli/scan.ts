// `pulumi-lvs scan`: reads a running director and its real servers (read only, under each host's
// lock, with the provider's trust rules) and prints the program that declares exactly what it
// found, every resource adopting it as its own. What it cannot declare is listed at the end.
import * as fs from "fs";
import { parseArgs } from "util";
import { connect } from "../remote/ssh";
import { HostRead, readHost } from "../scan/read";
import { inlined, scan } from "../scan/scan";
import { HostRef, Program, renderConfig, renderTypeScript, renderYaml } from "../scan/render";
import { CONNECTION_OPTIONS, UsageError, connectionOf } from "./connection-flags";

/** json: what was found and declared, for tools (the resources' inputs and what was not translated). */
const renderJson = (p: Program) => JSON.stringify({ hosts: p.hosts.map((h) => h.target), ...p.scanned }, null, 2);
const FORMATS = { ts: renderTypeScript, yaml: renderYaml, config: renderConfig, json: renderJson } as const;

export async function scanCommand(args: string[], print: (v: string) => void): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...CONNECTION_OPTIONS,
      backend: { type: "string", multiple: true },
      format: { type: "string", default: "ts" },
      inline: { type: "boolean", default: false },
      name: { type: "string", default: "lvs-migrated" },
      out: { type: "string" },
    },
  });
  const [target, ...rest] = positionals;
  if (rest.length) throw new UsageError(`scan: unexpected ${JSON.stringify(rest[0])} (a backend goes after --backend)`);
  const render = FORMATS[values.format as keyof typeof FORMATS];
  if (!render) throw new UsageError(`--format: must be one of ${Object.keys(FORMATS).join(", ")}; got ${JSON.stringify(values.format)}`);
  // The root program's config declares an LvsDrCluster, whose backends are its own: nothing to inline.
  if (values.inline && values.format === "config")
    throw new UsageError("--inline: applies to --format ts, yaml and json (an LvsDrCluster's config has no RealServers to inline)");
  if (!/^[A-Za-z0-9_.-]{1,100}$/.test(values.name!))
    throw new UsageError(`--name: must be a Pulumi project name (letters, digits, - _ .), got ${JSON.stringify(values.name)}`);
  // Every connection is checked before the first is dialled: a typo in the last --backend touches no host.
  const connections = [
    connectionOf(target, values),
    ...(values.backend ?? []).map((b) => connectionOf(b, { ...values, "host-key": undefined })),
  ];
  const reads: HostRead[] = await Promise.all(connections.map(async (c) => readHost(await connect(c))));
  const hosts: HostRef[] = connections.map((c, i) => ({
    host: c.host,
    port: c.port,
    user: c.user,
    keyPath: values.key,
    password: values["password-env"] !== undefined,
    agent: values.agent,
    knownHostsPath: c.knownHostsPath,
    hostKey: i === 0 ? c.hostKey : undefined,
    proxy: c.proxy && { host: c.proxy.host, port: c.proxy.port, user: c.proxy.user },
    target: reads[i].target,
  }));
  const scanned = scan(reads[0], reads.slice(1));
  const program: Program = {
    name: values.name!,
    hosts,
    scanned: values.inline ? inlined(scanned) : scanned,
    header: `Scanned from ${hosts.map((h) => h.target).join(", ")} by \`pulumi-lvs scan\` on ${new Date().toISOString()}.`,
  };
  const text = render(program);
  if (values.out) fs.writeFileSync(values.out, text);
  else print(text.trimEnd());
  process.stderr.write(
    `pulumi-lvs scan: ${program.scanned.resources.length} resource(s) declared, ${program.scanned.keepalived.length} keepalived service(s) translated (commented out), ${program.scanned.notTranslated.length} thing(s) not translated${values.out ? ` (written to ${values.out})` : ""}\n`,
  );
}
