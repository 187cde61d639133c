// Host keys: real keys from ssh-keygen, fingerprints compared with what `ssh-keygen -lf`
// prints, known_hosts files as ssh writes them (plain and hashed with `ssh-keygen -H`), and
// the verifier ssh2 calls during the handshake, fed with the real key blobs.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
  HostKeyCheck,
  HostKeyMismatchError,
  expectedFingerprint,
  expectedKeys,
  fingerprintOf,
  forgetSeenHostKeys,
  hostKeyOf,
  knownHostsKeys,
  preferredAlgorithms,
  rememberHostKey,
} from "../../provider/remote/host-keys";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lvs-host-keys-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
beforeEach(() => forgetSeenHostKeys());

interface Key {
  pub: string;
  blob: Buffer;
  b64: string;
  fp: string;
}
/** A fresh key pair from ssh-keygen; `fp` is what `ssh-keygen -lf` prints for it. */
function keygen(name: string, type = "ed25519"): Key {
  const file = path.join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-C", `root@${name}`, "-f", file]);
  const pub = fs.readFileSync(`${file}.pub`, "utf8").trim();
  const b64 = pub.split(" ")[1];
  const fp = execFileSync("ssh-keygen", ["-lf", `${file}.pub`], { encoding: "utf8" }).split(" ")[1];
  return { pub, blob: Buffer.from(b64, "base64"), b64, fp };
}
const [k1, k2, k3] = ["k1", "k2", "k3"].map((n) => keygen(n));
const e2 = keygen("e2", "ecdsa");

const conn = (extra: Record<string, unknown> = {}) => ({ host: "192.0.2.10", port: 22, ...extra });
/** Runs the verifier as ssh2 would, with the key blob the host presents. */
const present = (check: HostKeyCheck, k: Key) => check.verifier(k.blob);

describe("fingerprints", () => {
  test("of the blob the handshake carries equal ssh-keygen -lf, for ed25519 and ecdsa", () => {
    expect(k1.fp).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(fingerprintOf(k1.blob)).toBe(k1.fp);
    expect(fingerprintOf(e2.blob)).toBe(e2.fp);
    expect(hostKeyOf(e2.blob)).toEqual({ type: "ecdsa-sha2-nistp256", fingerprint: e2.fp, line: `ecdsa-sha2-nistp256 ${e2.b64}` });
  });

  test("a pinned key may be the .pub line or the fingerprint", () => {
    expect(expectedFingerprint(k1.pub)).toBe(k1.fp);
    expect(expectedFingerprint(k1.fp)).toBe(k1.fp);
  });
});

describe("known_hosts", () => {
  const text = [
    "# comment",
    `@cert-authority *.example.com ssh-ed25519 ${k3.b64}`,
    `@revoked director.example.com ssh-ed25519 ${k3.b64}`,
    `director.example.com,192.0.2.10 ssh-ed25519 ${k1.b64} root@director`,
    `[192.0.2.10]:2222 ssh-ed25519 ${k2.b64}`,
    `[192.0.2.10]:2222 ecdsa-sha2-nistp256 ${e2.b64}`,
    `*.lab.example.com,!bad.lab.example.com ssh-ed25519 ${k3.b64}`,
    "",
  ].join("\n");
  const fps = (host: string, port: number, t = text) => knownHostsKeys(t, host, port).map((k) => k.fingerprint);

  test("plain entries: host lists, [host]:port for other ports, case, wildcards and negation; markers skipped", () => {
    expect(fps("192.0.2.10", 22)).toEqual([k1.fp]);
    expect(fps("Director.Example.com", 22)).toEqual([k1.fp]);
    expect(fps("192.0.2.10", 2222)).toEqual([k2.fp, e2.fp]);
    expect(fps("192.0.2.11", 22)).toEqual([]);
    expect(fps("rs.lab.example.com", 22)).toEqual([k3.fp]);
    expect(fps("bad.lab.example.com", 22)).toEqual([]);
    expect(fps("www.example.com", 22)).toEqual([]); // only a @cert-authority line names it
  });

  test("hashed entries (ssh-keygen -H) match the same hosts, as ssh-keygen -F finds them", () => {
    const file = path.join(dir, "known_hosts_hashed");
    fs.writeFileSync(
      file,
      [`director.example.com,192.0.2.10 ssh-ed25519 ${k1.b64}`, `[192.0.2.10]:2222 ssh-ed25519 ${k2.b64}`, ""].join("\n"),
    );
    execFileSync("ssh-keygen", ["-H", "-f", file], { stdio: "ignore" });
    const hashed = fs.readFileSync(file, "utf8");
    expect(hashed).toMatch(/^\|1\|/m);
    expect(hashed).not.toContain("192.0.2.10");
    const found = (name: string) =>
      execFileSync("ssh-keygen", ["-F", name, "-f", file], { encoding: "utf8" })
        .split("\n")
        .filter((l) => l && !l.startsWith("#"))
        .map((l) => l.split(/\s+/)[2]);
    expect(knownHostsKeys(hashed, "192.0.2.10", 22).map((k) => k.line.split(" ")[1])).toEqual(found("192.0.2.10"));
    expect(knownHostsKeys(hashed, "192.0.2.10", 2222).map((k) => k.line.split(" ")[1])).toEqual(found("[192.0.2.10]:2222"));
    expect(fps("director.example.com", 22, hashed)).toEqual([k1.fp]);
    expect(fps("192.0.2.10", 2222, hashed)).toEqual([k2.fp]);
    expect(fps("192.0.2.11", 22, hashed)).toEqual([]);
  });

  test("the listed key types are asked for first in the handshake", () => {
    const e = expectedKeys(conn({ port: 2222, knownHostsPath: "/kh" }), "r", undefined, text);
    expect(e).toMatchObject({ source: "known_hosts", fingerprints: [k2.fp, e2.fp], file: "/kh" });
    expect(preferredAlgorithms(e)).toEqual(["ssh-ed25519", "ecdsa-sha2-nistp256"]);
    expect(preferredAlgorithms(expectedKeys(conn({ hostKey: "ssh-rsa AAAAB3Nza" }), "r"))).toEqual([
      "rsa-sha2-512",
      "rsa-sha2-256",
      "ssh-rsa",
    ]);
    expect(preferredAlgorithms(expectedKeys(conn({ hostKey: k1.fp }), "r"))).toEqual([]);
  });
});

describe("the verifier", () => {
  const checkFor = (c: Record<string, unknown>, recorded?: string, knownHosts?: string, route = "192.0.2.10:22") =>
    new HostKeyCheck(() => expectedKeys(conn(c), route, recorded, knownHosts));

  test("pinned: only that key passes, given as a line or a fingerprint", () => {
    expect(present(checkFor({ hostKey: k1.pub }), k1)).toBe(true);
    expect(present(checkFor({ hostKey: k1.fp }), k1)).toBe(true);
    const check = checkFor({ hostKey: k1.pub });
    expect(present(check, k2)).toBe(false);
    expect(check.refused).toMatchObject({ source: "pinned", fingerprints: [k1.fp] });
    expect(check.presented?.fingerprint).toBe(k2.fp);
  });

  test("recorded in state: only that key passes", () => {
    expect(present(checkFor({}, k1.fp), k1)).toBe(true);
    const check = checkFor({}, k1.fp);
    expect(present(check, k2)).toBe(false);
    expect(check.refused?.source).toBe("recorded");
  });

  test("known_hosts: any key listed for the host passes, an unlisted one does not", () => {
    const file = `[192.0.2.10]:2222 ssh-ed25519 ${k2.b64}\n[192.0.2.10]:2222 ecdsa-sha2-nistp256 ${e2.b64}\n`;
    expect(present(checkFor({ port: 2222 }, undefined, file), k2)).toBe(true);
    expect(present(checkFor({ port: 2222 }, undefined, file), e2)).toBe(true);
    const check = checkFor({ port: 2222, knownHostsPath: "/kh" }, undefined, file);
    expect(present(check, k1)).toBe(false);
    expect(check.refused).toMatchObject({ source: "known_hosts", file: "/kh" });
    // No entry for this host: the recorded key applies.
    expect(present(checkFor({}, k3.fp, file), k3)).toBe(true);
    expect(present(checkFor({}, k3.fp, file), k1)).toBe(false);
  });

  test("pinned beats known_hosts beats recorded beats seen", () => {
    rememberHostKey("192.0.2.10:22", hostKeyOf(k3.blob));
    const kh = `192.0.2.10 ssh-ed25519 ${k2.b64}\n`;
    expect(checkFor({ hostKey: k1.pub }, k2.fp, kh).verifier(k1.blob)).toBe(true);
    expect(checkFor({}, k1.fp, kh).verifier(k2.blob)).toBe(true);
    expect(checkFor({}, k1.fp).verifier(k1.blob)).toBe(true);
    expect(checkFor({}).verifier(k3.blob)).toBe(true);
    expect(checkFor({}).verifier(k1.blob)).toBe(false);
  });

  test("registry: a key accepted for host:port is expected by every later connection there, read when the key arrives", () => {
    expect(present(checkFor({}), k1)).toBe(true); // first contact: nothing expected
    const pending = checkFor({}); // dialing started before another resource's connection was accepted
    rememberHostKey("192.0.2.10:22", hostKeyOf(k1.blob));
    expect(present(pending, k2)).toBe(false);
    expect(pending.refused).toMatchObject({ source: "seen", fingerprints: [k1.fp], types: ["ssh-ed25519"] });
    expect(present(checkFor({}), k1)).toBe(true);
    // Another port, or the same address behind a jump host, is another route.
    expect(present(checkFor({}, undefined, undefined, "192.0.2.10:2222"), k2)).toBe(true);
    expect(present(checkFor({}, undefined, undefined, "192.0.2.10:22 via 192.0.2.1:22"), k2)).toBe(true);
    // One key per type: a host's ecdsa key joins its ed25519 key; a new ed25519 key replaces the old one.
    rememberHostKey("192.0.2.10:22", hostKeyOf(e2.blob));
    expect(present(checkFor({}), e2)).toBe(true);
    rememberHostKey("192.0.2.10:22", hostKeyOf(k3.blob));
    expect(expectedKeys(conn(), "192.0.2.10:22")?.fingerprints).toEqual([e2.fp, k3.fp]);
  });

  test("the jump host is checked with its own pin and its own recorded key", () => {
    const proxy = { host: "192.0.2.1", port: 22, hostKey: k2.pub };
    expect(new HostKeyCheck(() => expectedKeys(proxy, "192.0.2.1:22")).verifier(k2.blob)).toBe(true);
    expect(new HostKeyCheck(() => expectedKeys(proxy, "192.0.2.1:22")).verifier(k1.blob)).toBe(false);
    expect(new HostKeyCheck(() => expectedKeys({ host: "192.0.2.1", port: 22 }, "192.0.2.1:22", k3.fp)).verifier(k1.blob)).toBe(false);
  });

  test("rekeying on an accepted connection must present the same key", () => {
    const check = checkFor({});
    expect(present(check, k1)).toBe(true);
    expect(present(check, k1)).toBe(true);
    expect(present(check, k2)).toBe(false);
  });
});

describe("the mismatch error", () => {
  const expected = { source: "recorded" as const, fingerprints: [k1.fp], types: [] };
  const presented = hostKeyOf(k2.blob);

  test("names both keys, how to accept the new one, and that no credential was sent", () => {
    const m = new HostKeyMismatchError({ target: "root@192.0.2.10:22", hop: "target", expected, presented }).message;
    expect(m).toContain(`root@192.0.2.10:22: host key changed: recorded in state ${k1.fp}, host presented ${k2.fp}.`);
    expect(m).toContain("Nothing was run and no credential was sent.");
    expect(m).toContain(`accept the new key by setting connection.hostKey to "${k2.fp}" (then run pulumi up)`);
  });

  test("for a jump host names it and proxy.hostKey; a pinned type suggests the whole key line", () => {
    const m = new HostKeyMismatchError({
      target: "ops@192.0.2.1:22",
      hop: "proxy",
      presented,
      expected: { source: "pinned", fingerprints: [k1.fp], types: ["ssh-ed25519"] },
    }).message;
    expect(m).toContain(`ops@192.0.2.1:22 (jump host): host key changed: pinned (connection.proxy.hostKey) ${k1.fp}`);
    expect(m).toContain(`setting connection.proxy.hostKey to "ssh-ed25519 ${k2.b64}".`);
  });

  test("on a shared connection opened earlier it does not claim that nothing was sent", () => {
    const m = new HostKeyMismatchError({ target: "root@192.0.2.10:22", hop: "target", expected, presented, shared: true }).message;
    expect(m).not.toContain("no credential was sent");
    expect(m).toContain("Nothing was run for this resource, and nothing new was sent");
  });
});
