// Host-key pinning accepts what operators copy: an OpenSSH public key line or a fingerprint.
import { createHash } from "crypto";
import { HostKeyMismatchError, expectedFingerprint, fingerprintOf } from "../../provider/remote/ssh";

const blob = Buffer.from("AAAAC3NzaC1lZDI1NTE5AAAAIGb4Zt6zPq1mZb2jB7bXbQG7mQ0V8pG8bY0c4rD3nE1h", "base64");
const fp = "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");

test("fingerprints look like ssh-keygen -lf", () => {
  expect(fingerprintOf(blob)).toBe(fp);
  expect(fp).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
});

test("a pinned key may be a public key line or a fingerprint", () => {
  expect(expectedFingerprint(`ssh-ed25519 ${blob.toString("base64")} root@director`)).toBe(fp);
  expect(expectedFingerprint(`${fp}=`)).toBe(fp);
  expect(() => expectedFingerprint("not a key")).toThrow(/connection.hostKey/);
});

test("a changed key names both fingerprints and how to accept the new one", () => {
  const e = new HostKeyMismatchError({
    target: "root@h:22",
    hop: "target",
    expected: { source: "recorded", fingerprints: ["SHA256:old"], types: [] },
    presented: { type: "ssh-ed25519", fingerprint: "SHA256:new", line: "ssh-ed25519 AAAA" },
  });
  expect(e.message).toMatch(/recorded in state SHA256:old, host presented SHA256:new/);
  expect(e.message).toContain('setting connection.hostKey to "SHA256:new"');
  expect(e.message).toContain("Nothing was run");
});
