// The scanner (provider/scan) on reads captured from the lab: the walkthrough's hand-built
// cluster, every kind of service captured, and what it must refuse to guess.
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";
import { SECTION } from "../../provider/remote/commands";
import { HostRead, parseScan } from "../../provider/scan/read";
import { Declared, scan } from "../../provider/scan/scan";
import { HostRef, renderConfig, renderTypeScript, renderYaml } from "../../provider/scan/render";
import { ClusterConfig } from "../../provider/config";
import { DirectorHostArgs, DrRealServerHostArgs, RealServerArgs, VirtualServiceArgs } from "../../provider/model";

const captured = (name: string) => fs.readFileSync(path.join(__dirname, "../lab/captured", name), "utf8");
const DIRECTOR = captured("scan-director-walkthrough.txt");
const BACKEND = captured("scan-backend-walkthrough.txt");

/** A captured read with some sections replaced (each by captured output where there is one). */
function withSections(read: string, sections: Record<string, string>): string {
  let out = read;
  for (const [name, text] of Object.entries(sections)) {
    const head = `${SECTION} ${name}\n`;
    const at = out.indexOf(head);
    if (at < 0) throw new Error(`no section ${name}`);
    const next = out.indexOf(`${SECTION} `, at + head.length);
    out = out.slice(0, at + head.length) + text + (next < 0 ? "" : out.slice(next));
  }
  return out;
}
/** rs-b's read: rs-a's with its LAN address. */
const rsB = BACKEND.replace(/198\.51\.100\.11\//g, "198.51.100.12/");
const walkthrough = (): [HostRead, HostRead[]] => [
  parseScan("root@127.0.0.1:2220", DIRECTOR),
  [parseScan("root@127.0.0.1:2221", BACKEND), parseScan("root@127.0.0.1:2222", rsB)],
];
const byType = (rs: Declared[], t: Declared["type"]) => rs.filter((r) => r.type === t);
const CONN = { connection: { host: "127.0.0.1", privateKey: "k" } };

describe("the walkthrough's hand-built cluster", () => {
  const [director, backends] = walkthrough();
  const s = scan(director, backends);

  test("declares the director, the service, both real servers and both backends; nothing left out", () => {
    expect(s.notTranslated).toEqual([]);
    expect(s.resources.map((r) => `${r.type} ${r.name}`)).toEqual([
      "DirectorHost director",
      "DrRealServerHost backend-198-51-100-11",
      "DrRealServerHost backend-198-51-100-12",
      "VirtualService tcp-198-51-100-100-80",
      "RealServer tcp-198-51-100-100-80-198-51-100-11",
      "RealServer tcp-198-51-100-100-80-198-51-100-12",
    ]);
  });

  test("the VIP on eth1 under its alias label eth1:0 is the director's, and its host route is recognised as the VIP's own", () => {
    const [d] = byType(s.resources, "DirectorHost");
    expect(d.args).toEqual({ vips: ["198.51.100.100"], interface: "eth1" });
    expect(d.notes.join("\n")).toContain("198.51.100.100 dev eth1 scope link");
    expect(d.notes.join("\n")).toContain("the VIP's own");
  });

  test("the backends: the VIP on lo (lo:0) with the four ARP sysctls as found", () => {
    for (const b of byType(s.resources, "DrRealServerHost"))
      expect(b.args).toEqual({ vips: ["198.51.100.100"], arpIgnore: 1, arpAnnounce: 2 });
    const rs = byType(s.resources, "RealServer");
    expect(rs.map((r) => [r.args, r.service, r.dependsOn])).toEqual([
      [{ address: "198.51.100.11", weight: 1 }, "tcp-198-51-100-100-80", ["backend-198-51-100-11"]],
      [{ address: "198.51.100.12", weight: 1 }, "tcp-198-51-100-100-80", ["backend-198-51-100-12"]],
    ]);
  });

  test("every declared resource passes the model as it stands", () => {
    for (const r of s.resources) {
      const svc = r.service ? s.resources.find((x) => x.name === r.service)!.args : undefined;
      const schema = {
        DirectorHost: DirectorHostArgs,
        VirtualService: VirtualServiceArgs,
        RealServer: RealServerArgs,
        DrRealServerHost: DrRealServerHostArgs,
      }[r.type as "DirectorHost"];
      const parsed = schema.safeParse({
        ...CONN,
        ...r.args,
        ...(svc ? { service: { address: svc.address, port: svc.port, protocol: svc.protocol } } : {}),
        adopt: "own",
      });
      expect(parsed.error?.issues ?? []).toEqual([]);
    }
  });
});

describe("every kind of service captured", () => {
  const director = parseScan(
    "d",
    withSections(DIRECTOR, { ipvs: captured("ipvsadm-S-n-all-kinds.txt"), thresholds: captured("ipvsadm-L-n-thresholds-all-kinds.txt") }),
  );
  const s = scan(director, []);
  const svc = (name: string) => s.resources.find((r) => r.type === "VirtualService" && r.name === name)!.args;
  const dests = (service: string) => s.resources.filter((r) => r.service === service).map((r) => r.args);

  test("services: protocol, scheduler, flags, one-packet, persistence, fwmark of both families", () => {
    expect(svc("tcp-198-51-100-100-8082")).toEqual({
      address: "198.51.100.100",
      port: 8082,
      protocol: "tcp",
      scheduler: "sh",
      schedulerFlags: ["sh-fallback", "sh-port"],
    });
    expect(svc("udp-198-51-100-100-5353")).toMatchObject({ protocol: "udp", onePacket: true });
    expect(svc("sctp-198-51-100-100-9999")).toMatchObject({ protocol: "sctp", scheduler: "rr" });
    expect(svc("fwmark-1")).toEqual({ fwmark: 1, scheduler: "rr", persistence: { timeout: 300 } });
    expect(svc("fwmark6-2")).toEqual({ fwmark: 2, family: "ipv6", scheduler: "rr" });
    expect(svc("tcp-2001-db8-100-100-80")).toMatchObject({ address: "2001:db8:100::100", scheduler: "wrr" });
  });

  test("real servers: forwarding, tunnel type and port, mapped ports, weights", () => {
    expect(dests("tcp-198-51-100-100-80")).toEqual([
      { address: "198.51.100.11", forwarding: "tunnel", tunnelType: "gue", tunnelPort: 6080, weight: 1 },
      { address: "198.51.100.12", forwarding: "tunnel", tunnelType: "gre", weight: 1 },
      { address: "203.0.113.30", forwarding: "tunnel", weight: 1 },
    ]);
    expect(dests("tcp-198-51-100-100-8000")).toEqual([{ address: "198.51.100.11", port: 8080, forwarding: "masquerade", weight: 1 }]);
    expect(dests("tcp-2001-db8-100-100-80").map((d) => d.weight)).toEqual([1, 2]);
    expect(dests("fwmark-1")).toEqual([{ address: "198.51.100.11", weight: 1 }]);
  });

  test("a fwmark service with no mark rule on the director says so; a VIP that is not on the director is named", () => {
    expect(s.resources.find((r) => r.name === "fwmark-1")!.notes).toEqual([
      "no rule marking its packets was found on the director (nftables, iptables)",
    ]);
    expect(s.notTranslated).toContain(
      "VIP 2001:db8:100::100: not on any interface of the director as /128; its services are declared, the address is not",
    );
  });

  test("a mark rule that is not ours is shown beside its service", () => {
    const marked = parseScan(
      "d",
      withSections(DIRECTOR, {
        ipvs: "-A -f 1 -s rr\n-a -f 1 -r 198.51.100.11:0 -g -w 1\n",
        thresholds: "",
        marks:
          "-A PREROUTING -d 198.51.100.100/32 -p tcp -m multiport --dports 80,443 -j MARK --set-xmark 0x1/0xffffffff\nip daddr 198.51.100.100 tcp dport 80 meta mark set 0x00000002\n",
      }),
    );
    const notes = scan(marked, []).resources.find((r) => r.name === "fwmark-1")!.notes;
    expect(notes).toEqual([
      "its packets are marked by rules that are not pulumi-lvs's, left as they are:",
      "  -A PREROUTING -d 198.51.100.100/32 -p tcp -m multiport --dports 80,443 -j MARK --set-xmark 0x1/0xffffffff",
    ]);
  });
});

describe("what the scanner refuses to guess", () => {
  const one = (ipvs: string, extra: Record<string, string> = {}) =>
    parseScan("d", withSections(DIRECTOR, { ipvs, thresholds: "", ...extra }));

  test("a service with a flag pulumi-lvs does not model (--pe sip) is left as it is, with its real servers", () => {
    const s = scan(one("-A -u 198.51.100.100:5060 -s rr -p 60 --pe sip\n-a -u 198.51.100.100:5060 -r 198.51.100.11:5060 -g -w 1\n"), []);
    expect(s.resources.filter((r) => r.type !== "DirectorHost")).toEqual([]);
    expect(s.notTranslated[0]).toBe(
      "IPVS service udp/198.51.100.100:5060: it has --pe sip, which pulumi-lvs does not model; left as it is, with its real servers",
    );
  });

  test("a service keepalived runs from its own files, and a VIP its VRRP carries", () => {
    const s = scan(
      one("-A -t 198.51.100.100:80 -s rr\n-a -t 198.51.100.100:80 -r 198.51.100.11:80 -g -w 1\n", {
        kaservices: "virtual_server 198.51.100.100 80 {\n",
        kavips: "198.51.100.100/32\n",
      }),
      [],
    );
    expect(s.resources).toEqual([]);
    expect(s.notTranslated).toEqual([
      "IPVS service tcp/198.51.100.100:80: keepalived runs it (virtual_server 198.51.100.100 80 in /etc/keepalived); its health checks are not translated by this release, so it and its real servers are left to keepalived",
    ]);
  });

  test("a service already held by a stack is left to it", () => {
    const ledger = JSON.stringify({
      version: 1,
      entries: {
        "service tcp/198.51.100.100:80": {
          kind: "service",
          where: { address: "198.51.100.100", port: 80, protocol: "tcp", scheduler: "rr" },
          original: null,
          holders: {
            "urn:pulumi:prod::p::lvs:index:VirtualService::web": {
              value: { address: "198.51.100.100", port: 80, protocol: "tcp", scheduler: "rr" },
              persist: true,
            },
          },
        },
      },
    });
    const s = scan(one("-A -t 198.51.100.100:80 -s rr\n", { ledger: `${ledger}\n` }), []);
    expect(s.notTranslated[0]).toBe(
      "IPVS service tcp/198.51.100.100:80: already managed by pulumi-lvs (held by urn:pulumi:prod::p::lvs:index:VirtualService::web); left to that stack",
    );
  });

  test("ARP settings that differ on lo and all: the value in effect, and the change it makes, named", () => {
    const [director] = walkthrough();
    const b = parseScan(
      "root@rs-a",
      withSections(BACKEND, {
        sysctls:
          "net.ipv4.conf.all.arp_ignore=1\nnet.ipv4.conf.lo.arp_ignore=0\nnet.ipv4.conf.all.arp_announce=2\nnet.ipv4.conf.lo.arp_announce=2\n",
      }),
    );
    const s = scan(director, [b]);
    expect(byType(s.resources, "DrRealServerHost")[0].args).toEqual({ vips: ["198.51.100.100"], arpIgnore: 1, arpAnnounce: 2 });
    expect(s.notTranslated).toContain("root@rs-a: arp_ignore is 0 on lo but 1 on all; the program sets both to 1 (the value in effect)");
  });

  test("a backend without the VIP on lo, a real server no --backend reaches, a backend that is no real server", () => {
    const [director] = walkthrough();
    const bare = parseScan("root@rs-a", BACKEND.replace(/^.*inet 198\.51\.100\.100\/32.*\n/m, ""));
    const other = parseScan("root@other", BACKEND.replace(/198\.51\.100\.11\//g, "198.51.100.99/"));
    const s = scan(director, [bare, other]);
    expect(byType(s.resources, "DrRealServerHost")).toEqual([]);
    expect(s.notTranslated).toEqual([
      "root@rs-a: VIP 198.51.100.100 is not on lo or a tunnel device (as /32); not declared there",
      "root@other: none of its addresses is a real server of a scanned service; nothing declared for it",
    ]);
    expect(s.resources.find((r) => r.args.address === "198.51.100.12" && r.type === "RealServer")!.notes).toEqual([
      "no --backend reaches 198.51.100.12: its host settings were not read, so none are declared",
    ]);
  });

  test("no ip_vs module: nothing to scan, said so", () => {
    const s = scan(
      parseScan(
        "d",
        withSections(DIRECTOR, { ipvs: "", thresholds: "", timeouts: "" }).replace(
          /^--- pulumi-lvs section --- (thresholds|timeouts)\n/gm,
          "",
        ),
      ),
      [],
    );
    expect(s.resources).toEqual([]);
    expect(s.notTranslated).toEqual(["d: the ip_vs module is not loaded, so it has no IPVS services to scan"]);
  });
});

describe("rendering", () => {
  const [director, backends] = walkthrough();
  const hosts: HostRef[] = [2220, 2221, 2222].map((port) => ({
    host: "127.0.0.1",
    port,
    user: "root",
    keyPath: "/keys/id",
    knownHostsPath: "/keys/known_hosts",
    target: `root@127.0.0.1:${port}`,
  }));
  const program = { name: "migrated", hosts, scanned: scan(director, backends), header: "Scanned." };

  test("YAML: every resource adopts with own, keys are read from their file, never written", () => {
    const y = renderYaml(program);
    expect(y).toContain('fn::readFile: "/keys/id"');
    expect(y.match(/^ {6}adopt: "own"$/gm)).toHaveLength(6);
    expect(y).toContain(
      'connection: {"host":"127.0.0.1","port":2221,"user":"root","privateKey":"${privateKey}","knownHostsPath":"/keys/known_hosts"}',
    );
    expect(y).toContain('dependsOn: ["${tcp-198-51-100-100-80}", "${backend-198-51-100-11}"]');
  });

  test("TypeScript: the real servers take their service's connection; order follows dependencies", () => {
    const t = renderTypeScript(program);
    expect(t).toContain('const privateKey = fs.readFileSync("/keys/id", "utf8");');
    expect(t).toContain(
      'const service1 = new lvs.VirtualService("tcp-198-51-100-100-80", { connection: directorConnection, address: "198.51.100.100", port: 80, protocol: "tcp", scheduler: "rr", adopt: "own" }, { dependsOn: [director1] });',
    );
    expect(t).toContain(
      'new lvs.RealServer("tcp-198-51-100-100-80-198-51-100-11", { service: service1, address: "198.51.100.11", weight: 1, adopt: "own" }, { dependsOn: [backend1] });',
    );
    expect(t).toContain(
      'const directorConnection = { host: "127.0.0.1", port: 2220, user: "root", privateKey, knownHostsPath: "/keys/known_hosts" };',
    );
  });

  test("config: the walkthrough is one LvsDrCluster, as the root program's stack config that its own model accepts", () => {
    const c = renderConfig(program);
    const values = Object.fromEntries(
      c
        .split("\n")
        .filter((l) => l.startsWith("  pulumi-lvs:"))
        .map((l) => {
          const [, k, v] = /^ {2}pulumi-lvs:(\w+): (.*)$/.exec(l)!;
          return [k, JSON.parse(v) as unknown];
        }),
    );
    expect(values).toMatchObject({ vip: "198.51.100.100", port: 80, scheduler: "rr", interface: "eth1", adopt: "own" });
    expect(values.backends).toEqual([
      {
        address: "198.51.100.11",
        weight: 1,
        connection: { host: "127.0.0.1", port: 2221, user: "root", privateKeyPath: "/keys/id", knownHostsPath: "/keys/known_hosts" },
      },
      {
        address: "198.51.100.12",
        weight: 1,
        connection: { host: "127.0.0.1", port: 2222, user: "root", privateKeyPath: "/keys/id", knownHostsPath: "/keys/known_hosts" },
      },
    ]);
    expect(ClusterConfig.safeParse(values).error?.issues ?? []).toEqual([]);
  });

  test("config: a scan that is not one cluster is refused, naming why", () => {
    const many = parseScan("d", withSections(DIRECTOR, { ipvs: captured("ipvsadm-S-n-all-kinds.txt"), thresholds: "" }));
    expect(() => renderConfig({ ...program, scanned: scan(many, []) })).toThrow(
      /^the scan does not fit one LvsDrCluster \(the root program's config\): 10 services \(a cluster has one address service\);/,
    );
  });

  test("TypeScript: the program type-checks against the package's own types (strict)", () => {
    const file = path.join(__dirname, "../../scanned-program.ts");
    const text = renderTypeScript(program);
    const options = {
      strict: true,
      noEmit: true,
      esModuleInterop: true,
      skipLibCheck: true,
      target: ts.ScriptTarget.ES2020,
      module: ts.ModuleKind.CommonJS,
      moduleResolution: ts.ModuleResolutionKind.Node10,
      // The package's source, not its build: what this checkout declares.
      baseUrl: path.join(__dirname, "../.."),
      paths: { "pulumi-lvs": ["provider/index.ts"] },
    };
    const host = ts.createCompilerHost(options);
    const read = host.readFile.bind(host);
    host.readFile = (f) => (path.resolve(f) === file ? text : read(f));
    host.fileExists = (
      (exists) => (f: string) =>
        path.resolve(f) === file || exists(f)
    )(host.fileExists.bind(host));
    const errors = ts
      .getPreEmitDiagnostics(ts.createProgram([file], options, host))
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    expect(errors).toEqual([]);
  }, 60_000);
});
