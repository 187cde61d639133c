// SSH trust on the lab, through the real pulumi CLI: a host, or a jump host, whose key is not
// the known one is refused during the SSH handshake, before authentication. sshd on that host
// is the witness: since its key changed, its journal shows no authentication request from the
// provider at all (no "Accepted", no "Failed password", no "Postponed publickey", which is a key
// offered without a signature), and nothing on the host changed. Pinning the new key then works.
//
// The provider logs in as root; every check here logs in as the lab's sudo user, so the
// checks' own logins are told apart from the provider's. sshd logs "Postponed" only at
// LogLevel VERBOSE: beforeAll fails loudly if the lab's sshd runs at a lower level.
import * as path from "path";
import { REPO, Stack, conn, labCli, labHost, labStatus } from "./harness";

jest.setTimeout(20 * 60_000);

const lab = labStatus();
const [director, rsA, rsB] = ["director", "rs-a", "rs-b"].map((n) => labHost(lab, n));
type H = typeof director;
/** The provider logs in as root (the checks as the sudo user). */
const rootConn = (h: H, extra: Record<string, unknown> = {}) => conn(h, { user: "root", ...extra });
const stack = new Stack(path.join(REPO, "test/e2e/program"), "host-trust");
const declare = stack.declare.bind(stack);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const re = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const FP = "SHA256:[A-Za-z0-9+/]{43}";

/** A command as root on `h`, logged in as the lab's sudo user (never a root login in sshd's journal). */
const check = (h: H, cmd: string): string => labCli("ssh", h.name, "--user", h.sudoUser, `sudo -n ${cmd}`);

/** Rotates `h`'s host keys; returns the time on each host to read journals from, after the lab CLI's own root logins. */
async function rotate(h: H, ...alsoWatch: H[]): Promise<Map<H, string>> {
  labCli("rotate-hostkey", h.name);
  await sleep(1500); // journalctl --since has whole seconds: step past the rotation's last login
  return new Map([h, ...alsoWatch].map((x) => [x, check(x, "date '+%Y-%m-%d %H:%M:%S'").trim()]));
}

/** sshd's authentication lines on `h` since `since` (Accepted, Failed, Postponed, Partial), except the checks' own. */
function authAttempts(h: H, since: string): string[] {
  return check(h, `journalctl -u ssh --no-pager -o cat --since '${since}'`)
    .split("\n")
    .filter((l) => /\b(Accepted|Failed|Postponed|Partial) \S+ for /.test(l) && !l.includes(` for ${h.sudoUser} from `));
}

const hostKeyLine = (h: H) => check(h, "cat /etc/ssh/ssh_host_ed25519_key.pub").trim();
const hostKeyFingerprint = (h: H) => check(h, "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub").split(" ")[1];
const arpIgnore = (h: H) => check(h, "sysctl -n net.ipv4.conf.all.arp_ignore").trim();

beforeAll(async () => {
  for (const h of [director, rsA, rsB]) {
    const level = check(h, "sshd -T").match(/^loglevel (\S+)/im)?.[1];
    if (!/^(VERBOSE|DEBUG\d?)$/i.test(level ?? "")) {
      throw new Error(
        `${h.name}: sshd LogLevel is ${level}; these tests need VERBOSE (test/lab/guest/sshd-lab.conf), or a key offered without a signature ("Postponed publickey") leaves no trace to check`,
      );
    }
  }
  await stack.init();
});
afterAll(async () => {
  await stack.run("destroy", "--yes", "--skip-preview");
  await stack.remove();
});

test("a host whose key changed since create: refused before authentication, nothing changes; pinning the new key accepts it", async () => {
  const host = (arp: number, extra: Record<string, unknown> = {}) => ({
    type: "DrRealServerHost",
    name: "trust-b",
    args: { connection: rootConn(rsB, extra), vips: ["198.51.100.110"], arpIgnore: arp },
  });
  declare(host(1));
  await stack.up();
  const since = (await rotate(rsB)).get(rsB)!;
  declare(host(2));
  const r = await stack.run("up", "--yes", "--skip-preview");
  expect(r.code).not.toBe(0);
  const m = r.output.match(
    new RegExp(`root@127\\.0\\.0\\.1:${rsB.sshPort}: host key changed: recorded in state (${FP}), host presented (${FP})\\.`),
  );
  expect(m).not.toBeNull();
  expect(m![1]).not.toBe(m![2]);
  expect(m![2]).toBe(hostKeyFingerprint(rsB));
  expect(r.output).toContain("Nothing was run and no credential was sent.");
  expect(authAttempts(rsB, since)).toEqual([]);
  expect(arpIgnore(rsB)).toBe("1");

  declare(host(2, { hostKey: m![2] }));
  await stack.up();
  expect(arpIgnore(rsB)).toBe("2");
  // The witness works: the accepted connection left both traces the refused one did not.
  const seen = authAttempts(rsB, since).join("\n");
  expect(seen).toMatch(/Postponed publickey for root /);
  expect(seen).toMatch(/Accepted publickey for root /);
  declare();
  await stack.up();
  expect(check(rsB, "ip -o addr show dev lo")).not.toContain("198.51.100.110");
});

test("a pinned host key: after the host's key changes, the pinned one is enforced before authentication", async () => {
  const host = (arp: number, hostKey: string) => ({
    type: "DrRealServerHost",
    name: "pinned-b",
    args: { connection: rootConn(rsB, { hostKey }), vips: ["198.51.100.110"], arpIgnore: arp },
  });
  const pinned = hostKeyLine(rsB);
  declare(host(1, pinned));
  await stack.up();
  const since = (await rotate(rsB)).get(rsB)!;
  declare(host(2, pinned));
  const r = await stack.run("up", "--yes", "--skip-preview");
  expect(r.code).not.toBe(0);
  const m = r.output.match(
    new RegExp(
      `root@127\\.0\\.0\\.1:${rsB.sshPort}: host key changed: pinned \\(connection\\.hostKey\\) (${FP}), host presented (${FP})\\.`,
    ),
  );
  expect(m).not.toBeNull();
  expect(m![2]).toBe(hostKeyFingerprint(rsB));
  expect(r.output).toContain("Nothing was run and no credential was sent.");
  expect(authAttempts(rsB, since)).toEqual([]);
  expect(arpIgnore(rsB)).toBe("1");

  // A pinned key line asks for its type: the message suggests the new key as a whole line.
  const suggested = r.output.match(/setting connection\.hostKey to "(ssh-ed25519 AAAA[A-Za-z0-9+/=]+)"/)?.[1];
  expect(suggested).toBe(hostKeyLine(rsB).split(" ").slice(0, 2).join(" "));
  declare(host(2, suggested!));
  await stack.up();
  expect(arpIgnore(rsB)).toBe("2");
  expect(authAttempts(rsB, since).join("\n")).toMatch(/Accepted publickey for root /);
  declare();
  await stack.up();
  expect(check(rsB, "ip -o addr show dev lo")).not.toContain("198.51.100.110");
});

test("a jump host whose key changed: refused before authenticating to it, the director is never reached; pinning proxy.hostKey accepts it", async () => {
  const viaJump = (extra: Record<string, unknown> = {}) => ({
    host: director.lanAddress,
    port: 22,
    user: "root",
    privateKeyPath: director.keyPath,
    proxy: rootConn(rsA, extra),
  });
  const directorHost = (vips: string[], proxyExtra: Record<string, unknown> = {}) => ({
    type: "DirectorHost",
    name: "trust-director",
    args: { connection: viaJump(proxyExtra), vips },
  });
  declare(directorHost(["198.51.100.111"]));
  await stack.up();
  expect(check(director, "ip -o -4 addr show")).toContain("198.51.100.111/32");
  const since = await rotate(rsA, director);
  declare(directorHost(["198.51.100.111", "198.51.100.112"]));
  const r = await stack.run("up", "--yes", "--skip-preview");
  expect(r.code).not.toBe(0);
  const m = r.output.match(
    new RegExp(
      `${re(`root@127.0.0.1:${rsA.sshPort}`)} \\(jump host\\): host key changed: recorded in state (${FP}), host presented (${FP})\\.`,
    ),
  );
  expect(m).not.toBeNull();
  expect(m![2]).toBe(hostKeyFingerprint(rsA));
  expect(r.output).toContain("Nothing was run and no credential was sent.");
  expect(r.output).toContain(`connection.proxy.hostKey to "${m![2]}"`);
  expect(authAttempts(rsA, since.get(rsA)!)).toEqual([]);
  expect(authAttempts(director, since.get(director)!)).toEqual([]);
  expect(check(director, "ip -o -4 addr show")).not.toContain("198.51.100.112");

  declare(directorHost(["198.51.100.111", "198.51.100.112"], { hostKey: m![2] }));
  await stack.up();
  expect(check(director, "ip -o -4 addr show")).toContain("198.51.100.112/32");
  expect(authAttempts(rsA, since.get(rsA)!).join("\n")).toMatch(/Accepted publickey for root /);
  expect(authAttempts(director, since.get(director)!).join("\n")).toMatch(
    new RegExp(`Accepted publickey for root from ${re(rsA.lanAddress)} `),
  );
  declare();
  await stack.up();
  expect(check(director, "ip -o -4 addr show")).not.toMatch(/198\.51\.100\.11[12]\//);
});
