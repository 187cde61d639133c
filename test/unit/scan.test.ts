// The scanner (provider/scan) on reads captured from the lab: the walkthrough's hand-built
// cluster, every kind of service captured, and what it must refuse to guess.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as ts from "typescript";
import { SECTION } from "../../provider/remote/commands";
import { FILE_MARK, HostRead, parseScan, scanRead } from "../../provider/scan/read";
import { Declared, inlined, scan } from "../../provider/scan/scan";
import { HostRef, renderConfig, renderTypeScript, renderYaml } from "../../provider/scan/render";
import { ClusterConfig } from "../../provider/config";
import { Destination, DirectorHostArgs, HealthCheck, DrRealServerHostArgs, RealServerArgs, VirtualServiceArgs } from "../../provider/model";
import { renderService } from "../../provider/remote/keepalived";
import { everyStatement, parseConf } from "../../provider/scan/keepalived-conf";
import { translateVirtualServer } from "../../provider/scan/keepalived-translate";

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
/** The kaconf section of a read, as scanRead prints it: a marker line with each file's path, then its lines one space in. */
const kaconf = (files: Record<string, string>) =>
  Object.entries(files)
    .map(([p, text]) => `${FILE_MARK} ${p}\n${text.replace(/^/gm, " ")}\n`)
    .join("");
const CONN = { connection: { host: "127.0.0.1", privateKey: "k" } };

/** TypeScript's errors (strict) in a program on "pulumi-lvs": the package's source, not its build (what this checkout declares). */
function typeErrors(text: string): string[] {
  const file = path.join(__dirname, "../../scanned-program.ts");
  const options = {
    strict: true,
    noEmit: true,
    esModuleInterop: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2020,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
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
  return ts.getPreEmitDiagnostics(ts.createProgram([file], options, host)).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
}

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

describe("TUN and NAT backends", () => {
  const director = (dest: string) =>
    parseScan(
      "d",
      withSections(DIRECTOR, {
        ipvs: `-A -t 198.51.100.100:80 -s rr\n-a -t 198.51.100.100:80 -r 198.51.100.11:80 ${dest} -w 1\n`,
        thresholds: "",
      }),
    );

  test("a TUN backend: the VIP on tunl0, its ARP settings as found; an rp_filter the first up relaxes is named", () => {
    const b = parseScan(
      "root@rs-a",
      withSections(BACKEND, {
        addrs:
          "3: eth1    inet 198.51.100.11/24 scope global eth1\\       valid_lft forever preferred_lft forever\n6: tunl0    inet 198.51.100.100/32 scope global tunl0\\       valid_lft forever preferred_lft forever\n",
        sysctls:
          "net.ipv4.conf.all.arp_ignore=1\nnet.ipv4.conf.tunl0.arp_ignore=1\nnet.ipv4.conf.all.arp_announce=2\nnet.ipv4.conf.tunl0.arp_announce=2\nnet.ipv4.conf.all.rp_filter=0\nnet.ipv4.conf.tunl0.rp_filter=1\n",
      }),
    );
    const [host] = byType(scan(director("-i"), [b]).resources, "TunRealServerHost");
    expect(host.args).toEqual({ vips: ["198.51.100.100"], arpIgnore: 1, arpAnnounce: 2 });
    expect(host.notes).toEqual([
      "root@rs-a: its first up sets net.ipv4.conf.tunl0.rp_filter to 0 (found 1): decapsulated packets come from clients the tunnel has no route back to",
    ]);
  });

  test("a NAT backend: its clients are what it routes through the director; accept_redirects the first up turns off is named", () => {
    const b = parseScan(
      "root@rs-a",
      withSections(BACKEND, {
        gateways4: "default via 198.51.100.10 dev eth1\n198.51.100.0/24 dev eth1 proto kernel scope link src 198.51.100.11\n",
        sysctls: "net.ipv4.conf.all.accept_redirects=1\nnet.ipv4.conf.eth1.accept_redirects=0\n",
      }),
    );
    const s = scan(director("-m"), [b]);
    const [host] = byType(s.resources, "NatRealServerHost");
    expect(host.args).toEqual({ director: "198.51.100.10", clients: ["default"] });
    expect(host.notes).toEqual([
      "root@rs-a: its first up sets net.ipv4.conf.all.accept_redirects to 0 (found 1): a redirect from the director would route answers around it",
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
    const conf = [
      "vrrp_instance VI_1 {",
      "    interface eth1",
      "    virtual_ipaddress {",
      "        198.51.100.100/32 dev eth1",
      "    }",
      "}",
      "virtual_server 198.51.100.100 80 {",
      "    lb_kind DR",
      "    real_server 198.51.100.11 80 {",
      "    }",
      "}",
    ].join("\n");
    const s = scan(
      one("-A -t 198.51.100.100:80 -s rr\n-a -t 198.51.100.100:80 -r 198.51.100.11:80 -g -w 1\n", {
        kaconf: kaconf({ "/etc/keepalived/keepalived.conf": conf }),
      }),
      [],
    );
    expect(s.resources).toEqual([]);
    expect(s.keepalived).toEqual([]);
    expect(s.notTranslated).toEqual([
      "IPVS service tcp/198.51.100.100:80: keepalived runs it (virtual_server 198.51.100.100 80 in /etc/keepalived/keepalived.conf); its block has no exact translation, so it and its real servers are left to keepalived: line 9: real_server 198.51.100.11 80: has no check (pulumi-lvs checks every real server)",
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
    // Inline, the note goes to the service, naming the backend.
    expect(byType(inlined(s).resources, "VirtualService")[0].notes).toEqual([
      "realServers 198.51.100.12: no --backend reaches 198.51.100.12: its host settings were not read, so none are declared",
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

describe("services keepalived runs from the operator's own files", () => {
  const FILE = "/etc/keepalived/keepalived.conf";
  const VIP = "198.51.100.100";
  const check = (c: Record<string, unknown>) => ({ interval: 5, timeout: 3, retries: 1, onFailure: "remove", ...c });
  type Args = Record<string, unknown>;
  /** What pulumi-lvs would declare for each service, in the shape a scan gives it. */
  const DECLARED: { service: Args; dests: (Args & { healthCheck?: Args })[] }[] = [
    {
      service: {
        ...{ address: VIP, port: 80, protocol: "tcp", scheduler: "rr" },
        healthCheck: check({ type: "http", path: "/health", status: 200, interval: 2, timeout: 2, retries: 3 }),
        sorryServer: { address: "198.51.100.50", port: 80 },
      },
      dests: [
        { address: "198.51.100.11", weight: 1 },
        { address: "198.51.100.12", weight: 2 },
      ],
    },
    {
      service: {
        ...{ address: VIP, port: 443, protocol: "tcp", scheduler: "wrr", persistence: { timeout: 300, netmask: "255.255.255.0" } },
        healthCheck: check({ type: "tcp", onFailure: "weight0" }),
      },
      dests: [
        { address: "198.51.100.11", weight: 3, upperThreshold: 100, lowerThreshold: 10 },
        { address: "198.51.100.12", weight: 1, healthCheck: check({ type: "tcp", port: 8443, onFailure: "weight0" }) },
      ],
    },
    {
      service: {
        ...{ address: VIP, port: 53, protocol: "udp", scheduler: "sh", schedulerFlags: ["sh-port"], onePacket: true },
        healthCheck: check({ type: "command", command: "/usr/local/bin/check-dns 198.51.100.11", interval: 10, timeout: 4, retries: 2 }),
      },
      dests: [{ address: "198.51.100.11", weight: 1 }],
    },
    {
      service: { fwmark: 1, scheduler: "rr", healthCheck: check({ type: "tcp", port: 8080 }) },
      dests: [
        { address: "198.51.100.11", weight: 1 },
        { address: "198.51.100.12", forwarding: "tunnel", tunnelType: "gre", weight: 1 },
      ],
    },
  ];
  /** What IPVS runs from them (the 443 service's second real server failing its check: weight 0). */
  const LIVE = [
    "-A -t 198.51.100.100:80 -s rr",
    "-a -t 198.51.100.100:80 -r 198.51.100.11:80 -g -w 1",
    "-a -t 198.51.100.100:80 -r 198.51.100.12:80 -g -w 2",
    "-A -t 198.51.100.100:443 -s wrr -p 300 -M 255.255.255.0",
    "-a -t 198.51.100.100:443 -r 198.51.100.11:443 -g -w 3",
    "-a -t 198.51.100.100:443 -r 198.51.100.12:443 -g -w 0",
    "-A -u 198.51.100.100:53 -s sh -b sh-port -o",
    "-a -u 198.51.100.100:53 -r 198.51.100.11:53 -g -w 1",
    "-A -f 1 -s rr",
    "-a -f 1 -r 198.51.100.11:0 -g -w 1",
    "-a -f 1 -r 198.51.100.12:0 -i -w 1 --tun-type gre",
    "",
  ].join("\n");
  const THRESHOLDS = "TCP  198.51.100.100:443 wrr\n  -> 198.51.100.11:443             100        10         0          0\n";
  /** keepalived's block for one service, as pulumi-lvs writes it in its own file. */
  const rendered = ({ service, dests }: (typeof DECLARED)[number]) => {
    const s = VirtualServiceArgs.parse({ ...CONN, ...service });
    const key = { address: s.address, port: s.port, protocol: s.protocol, fwmark: s.fwmark, family: s.family };
    return renderService(
      s,
      dests.map(({ healthCheck, ...d }) => ({
        service: key,
        dest: Destination.parse({ port: s.port ?? 0, ...d }),
        healthCheck: healthCheck && HealthCheck.parse(healthCheck),
      })),
    );
  };
  const read = (conf: string, ipvs = LIVE, thresholds = THRESHOLDS) =>
    parseScan("d", withSections(DIRECTOR, { ipvs, thresholds, kaconf: kaconf({ [FILE]: conf }) }));
  const block = (conf: string) => {
    const file = parseConf(FILE, conf);
    return translateVirtualServer(
      everyStatement(file.statements).find((st) => st.words[0] === "virtual_server")!,
      file,
    );
  };

  test("pulumi-lvs's own blocks (http with a sorry server, tcp at weight 0, a command, a fwmark) scan back to the inputs that wrote them", () => {
    const s = scan(read(DECLARED.map(rendered).join("\n")), []);
    expect(s.notTranslated).toEqual([]);
    expect(s.keepalived.map((k) => ({ service: k.service.args, dests: k.dests.map((d) => d.args) }))).toEqual(DECLARED);
    expect(s.keepalived.map((k) => k.file)).toEqual(DECLARED.map(() => FILE));
    // Only the VIP's DirectorHost is live: declaring the services would run them twice.
    expect(s.resources.map((r) => r.type)).toEqual(["DirectorHost"]);
    expect(s.keepalived[2].service.notes).toContain(
      "its command check will run as root (pulumi-lvs sets script_user root); keepalived's default is keepalived_script where that user exists",
    );
    // Inline (scan --inline): each block's real servers are its service's realServers, checks and all, and the model takes them.
    const inline = inlined(s);
    expect(inline.keepalived.map((k) => ({ dests: k.dests, realServers: k.service.args.realServers }))).toEqual(
      DECLARED.map((d) => ({ dests: [], realServers: d.dests })),
    );
    for (const k of inline.keepalived) expect(VirtualServiceArgs.safeParse({ ...CONN, ...k.service.args }).error?.issues ?? []).toEqual([]);
  });

  test("quorum and an SMTP_CHECK: named as not translated, with both reasons", () => {
    const conf = `virtual_server ${VIP} 80 {
    delay_loop 5
    lb_algo rr
    lb_kind DR
    protocol TCP
    alpha
    quorum 2
    real_server 198.51.100.11 80 {
        weight 1
        SMTP_CHECK {
            connect_timeout 3
        }
    }
}`;
    const s = scan(read(conf, "-A -t 198.51.100.100:80 -s rr\n-a -t 198.51.100.100:80 -r 198.51.100.11:80 -g -w 1\n", ""), []);
    expect(s.keepalived).toEqual([]);
    expect(s.resources).toEqual([]);
    expect(s.notTranslated).toEqual([
      `IPVS service tcp/198.51.100.100:80: keepalived runs it (virtual_server 198.51.100.100 80 in ${FILE}); its block has no exact translation, so it and its real servers are left to keepalived: line 7: quorum 2 has no exact pulumi-lvs equivalent; line 10: SMTP_CHECK: pulumi-lvs has no such check; line 8: real_server 198.51.100.11 80: has no check (pulumi-lvs checks every real server)`,
    ]);
  });

  test("an HTTP_GET with two urls is not exact; nor are keepalived's defaults that differ from what pulumi-lvs writes", () => {
    const http = rendered(DECLARED[0]);
    expect(block(http)).toMatchObject({ service: DECLARED[0].service });
    const twoUrls = http.replace(/( *)url \{/, "$1url {\n$1    path /other\n$1    status_code 204\n$1}\n$1url {");
    expect(block(twoUrls)).toEqual({
      reasons: ["line 11: HTTP_GET: checks 2 urls (pulumi-lvs checks one)"],
    });
    // Without alpha and delay_before_retry, keepalived starts real servers up and retries an HTTP check after 3s.
    const defaults = http.replace(/^ *(alpha|delay_before_retry 1)\n/gm, "");
    expect(block(defaults)).toEqual({
      reasons: [10, 23].flatMap((line) => [
        `line ${line}: HTTP_GET: runs without alpha (pulumi-lvs writes alpha: a real server gets traffic once its first check passed)`,
        `line ${line}: HTTP_GET: waits 3s before a retry (delay_before_retry; pulumi-lvs writes 1)`,
      ]),
    });
  });

  test("a block IPVS does not run as written (a file edited since keepalived read it), and one IPVS does not run at all", () => {
    const conf = rendered(DECLARED[0]) + rendered({ ...DECLARED[1], service: { ...DECLARED[1].service, port: 8080 } });
    const ipvs = LIVE.replace("198.51.100.100:80 -s rr", "198.51.100.100:80 -s wrr").replace(
      /^-a -t 198.51.100.100:80 -r 198.51.100.12.*$/m,
      "$&\n-a -t 198.51.100.100:80 -r 198.51.100.13:80 -g -w 1",
    );
    const s = scan(read(conf, ipvs), []);
    expect(s.keepalived).toEqual([]);
    expect(s.notTranslated).toEqual([
      `IPVS service tcp/198.51.100.100:80: keepalived runs it (virtual_server 198.51.100.100 80 in ${FILE}); its block has no exact translation, so it and its real servers are left to keepalived: IPVS runs it as {"address":"198.51.100.100","port":80,"protocol":"tcp","scheduler":"wrr"}, not as the block says; IPVS has real server 198.51.100.13:80, which the block does not list`,
      `keepalived's virtual_server 198.51.100.100 8080 (${FILE}): IPVS runs no such service (is keepalived running?); not declared`,
    ]);
    // The other services IPVS runs have no block: declared as usual.
    expect(byType(s.resources, "VirtualService").map((r) => r.name)).toEqual([
      "tcp-198-51-100-100-443",
      "udp-198-51-100-100-53",
      "fwmark-1",
    ]);
  });

  describe("rendered", () => {
    const hosts: HostRef[] = [{ host: "127.0.0.1", port: 2220, user: "root", keyPath: "/keys/id", target: "root@127.0.0.1:2220" }];
    const program = { name: "migrated", hosts, scanned: scan(read(DECLARED.map(rendered).join("\n")), []), header: "Scanned." };
    const handOver = `keepalived runs tcp-198-51-100-100-80: remove its \`virtual_server 198.51.100.100 80\` block from ${FILE} and reload keepalived, then uncomment this (pulumi-lvs then runs it from its own file)`;

    test("YAML: after the resources, commented out below the line that says how to hand each service over", () => {
      const y = renderYaml(program).split("\n");
      const [at, end] = [y.indexOf(`  # ${handOver}`), y.indexOf("# Everything found was translated.")];
      expect(at).toBeGreaterThan(y.indexOf("  director:"));
      expect(y.slice(at, end).every((l) => l.startsWith("#") || l.startsWith("  # keepalived runs "))).toBe(true);
      expect(y.slice(at + 1, at + 4)).toEqual(["#   tcp-198-51-100-100-80:", "#     type: lvs:index:VirtualService", "#     properties:"]);
      expect(y).toContain(
        '#       healthCheck: {"type":"http","path":"/health","status":200,"interval":2,"timeout":2,"retries":3,"onFailure":"remove"}',
      );
      expect(y).toContain('#       sorryServer: {"address":"198.51.100.50","port":80}');
    });

    test("config: refused, naming the services keepalived runs", () => {
      expect(() => renderConfig(program)).toThrow(/; services keepalived runs \(see --format ts\);/);
      expect(JSON.parse(JSON.stringify(program.scanned)).keepalived[0]).toMatchObject({
        file: FILE,
        service: { name: "tcp-198-51-100-100-80" },
      });
    });

    test("TypeScript: comments only after the resources; uncommented, the program type-checks", () => {
      const t = renderTypeScript(program).split("\n");
      const [at, end] = [t.indexOf(`// ${handOver}`), t.indexOf("// Everything found was translated.")];
      expect(at).toBeGreaterThan(t.findIndex((l) => l.startsWith("const director1 = ")));
      expect(t.slice(at, end).every((l) => l === "" || l.startsWith("//"))).toBe(true);
      expect(t[at + 1]).toBe(
        '// const service1 = new lvs.VirtualService("tcp-198-51-100-100-80", { connection: directorConnection, address: "198.51.100.100", port: 80, protocol: "tcp", scheduler: "rr", healthCheck: { type: "http", path: "/health", status: 200, interval: 2, timeout: 2, retries: 3, onFailure: "remove" }, sorryServer: { address: "198.51.100.50", port: 80 }, adopt: "own" }, { dependsOn: [director1] });',
      );
      const uncommented = t.map((l, i) => (i > at && i < end && !l.startsWith("// keepalived runs ") ? l.replace(/^\/\/ ?/, "") : l));
      expect(uncommented[at + 1]).toMatch(/^const service1 = new lvs\.VirtualService\(/);
      expect(typeErrors(uncommented.join("\n"))).toEqual([]);
    }, 60_000);
  });

  test("the read takes every file of the operator's whole, ours left out; no line of a file is taken for a marker", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keepalived-"));
    const write = (name: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      fs.writeFileSync(path.join(dir, name), text);
    };
    write("keepalived.conf", `include conf.d/*.conf\n${SECTION} ipvs\n${FILE_MARK} /x\nlast line, no newline`);
    write("conf.d/web 80.conf", "virtual_server 198.51.100.100 80 {\n}\n");
    write("pulumi-lvs.d/vs-tcp-198.51.100.100-80.conf", "ours\n");
    const lines = scanRead().split("\n");
    const command = lines[lines.indexOf(`echo '${SECTION} kaconf'`) + 1].replaceAll("/etc/keepalived", dir);
    const out = spawnSync("sh", ["-c", command], { encoding: "utf8" }).stdout;
    fs.rmSync(dir, { recursive: true });
    const files = parseScan("d", withSections(DIRECTOR, { kaconf: out })).keepalivedFiles;
    expect(files.map((f) => [f.path.slice(dir.length), f.statements.map((st) => st.words.join(" "))])).toEqual([
      ["/conf.d/web 80.conf", ["virtual_server 198.51.100.100 80"]],
      ["/keepalived.conf", ["include conf.d/*.conf", `${SECTION} ipvs`, `${FILE_MARK} /x`, "last line, no newline"]],
    ]);
  });

  test("comments, quoted strings, a brace on the next line or mid-line, and what keepalived would refuse", () => {
    const file = parseConf(
      FILE,
      [
        "! Configuration File for keepalived",
        "virtual_server 198.51.100.100 80   # the web VIP",
        "{",
        '    misc_path "/bin/check --tag #1 !x"  ! quoted: # and ! are the command\'s',
        "    notify_up /bin/up\\#1",
        "    url { path /health status_code 200 }",
        "}",
      ].join("\n"),
    );
    expect(file.errors).toEqual([]);
    expect(file.statements).toEqual([
      {
        words: ["virtual_server", "198.51.100.100", "80"],
        line: 2,
        block: [
          { words: ["misc_path", "/bin/check --tag #1 !x"], line: 4 },
          { words: ["notify_up", "/bin/up#1"], line: 5 },
          // keepalived reads a block's line up to '}' as one keyword line: path takes three values here.
          { words: ["url"], line: 6, block: [{ words: ["path", "/health", "status_code", "200"], line: 6 }] },
        ],
      },
    ]);
    expect(parseConf(FILE, 'a "b\n}\nc {\n').errors).toEqual([
      "line 1: a quote is not closed",
      "line 2: '}' closes no block",
      "1 block(s) not closed at the end of the file",
    ]);
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
    expect(typeErrors(renderTypeScript(program))).toEqual([]);
  }, 60_000);

  describe("--inline: each service's backends inline (realServers), one resource per pool", () => {
    const inline = { ...program, scanned: inlined(program.scanned) };

    test("the service holds both real servers and waits for both backend hosts; no RealServer is left; the model takes it", () => {
      expect(inline.scanned.resources.map((r) => `${r.type} ${r.name}`)).toEqual([
        "DirectorHost director",
        "DrRealServerHost backend-198-51-100-11",
        "DrRealServerHost backend-198-51-100-12",
        "VirtualService tcp-198-51-100-100-80",
      ]);
      const [svc] = byType(inline.scanned.resources, "VirtualService");
      expect(svc.args.realServers).toEqual([
        { address: "198.51.100.11", weight: 1 },
        { address: "198.51.100.12", weight: 1 },
      ]);
      expect(svc.dependsOn).toEqual(["director", "backend-198-51-100-11", "backend-198-51-100-12"]);
      expect(VirtualServiceArgs.safeParse({ ...CONN, ...svc.args, adopt: "own" }).error?.issues ?? []).toEqual([]);
      // What was found and how it is left is the same scan: only the shape of the program differs.
      expect(inline.scanned.notTranslated).toEqual(program.scanned.notTranslated);
    });

    test("YAML and TypeScript: the pool in one resource, adopting with own; the TypeScript type-checks (strict)", () => {
      const y = renderYaml(inline);
      expect(y.match(/^ {6}adopt: "own"$/gm)).toHaveLength(4);
      expect(y).toContain('      realServers: [{"address":"198.51.100.11","weight":1},{"address":"198.51.100.12","weight":1}]');
      expect(y).not.toContain("lvs:index:RealServer");
      const t = renderTypeScript(inline);
      expect(t).toContain(
        'const service1 = new lvs.VirtualService("tcp-198-51-100-100-80", { connection: directorConnection, address: "198.51.100.100", port: 80, protocol: "tcp", scheduler: "rr", ' +
          'realServers: [{ address: "198.51.100.11", weight: 1 }, { address: "198.51.100.12", weight: 1 }], adopt: "own" }, { dependsOn: [director1, backend1, backend2] });',
      );
      expect(t).not.toContain("lvs.RealServer");
      expect(typeErrors(t)).toEqual([]);
    }, 60_000);
  });
});
