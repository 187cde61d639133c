// The host queue against a fake Host (no SSH): operations that arrive together go out as one
// transaction; a refusal fails only its operation; a failing group fails its operation and the
// others go again; an error thrown while deciding fails that batch and never stops the queue.
import { ClaimError } from "../../provider/holds/plan";
import { HostQueue, Op } from "../../provider/runtime/host-queue";
import { Host, RemoteCommandError } from "../../provider/remote/ssh";

/** A Host whose transactions read an empty host and record the scripts they were given. */
class FakeHost {
  readonly target = "root@fake:22";
  readonly scripts: (string | undefined)[] = [];
  /** Makes the next transaction fail on the host, as a failing command in group `group` would. */
  failNext?: string;
  async transaction(_read: string, decide: (out: string) => string | undefined): Promise<{ read: string; write: string }> {
    await new Promise((r) => setTimeout(r, 20));
    const script = decide("");
    this.scripts.push(script);
    const group = this.failNext;
    this.failNext = undefined;
    if (group !== undefined)
      throw new RemoteCommandError(this.target, "batch", 1, "RTNETLINK answers: No such device", `pulumi-lvs-group ${group}\n`);
    return { read: "", write: "" };
  }
}

// The queue only calls transaction() and reads target: the one place a fake stands in for a Host.
const queueOn = (h: FakeHost) => new HostQueue(h as unknown as Host);
const addr = (owner: string, address: string): Op<string> => ({
  label: `addr ${address}`,
  apply: (plan) => {
    plan.claim(owner, { addrs: [{ address, prefix: 32, dev: "eth1" }], persist: false });
    return address;
  },
});
const refused: Op<string> = {
  label: "refused",
  apply: () => {
    throw new ClaimError("held by another owner");
  },
};

test("operations that arrive together go out in one transaction, each with its own result", async () => {
  const h = new FakeHost();
  const q = queueOn(h);
  const results = await Promise.all(["198.51.100.1", "198.51.100.2", "198.51.100.3"].map((a, i) => q.submit(addr(`o${i}`, a))));
  expect(results).toEqual(["198.51.100.1", "198.51.100.2", "198.51.100.3"]);
  expect(h.scripts).toHaveLength(1);
  for (const a of results) expect(h.scripts[0]).toContain(`ip addr replace ${a}/32 dev eth1`);
});

test("a refusal fails only its operation; the others are written in the same transaction", async () => {
  const h = new FakeHost();
  const q = queueOn(h);
  const [ok, bad] = await Promise.allSettled([q.submit(addr("o", "198.51.100.1")), q.submit(refused)]);
  expect(ok).toEqual({ status: "fulfilled", value: "198.51.100.1" });
  expect(bad).toMatchObject({ status: "rejected", reason: { message: "root@fake:22: held by another owner" } });
  expect(h.scripts).toHaveLength(1);
});

test("a failing group fails its operation; the other goes again in the next transaction and succeeds", async () => {
  const h = new FakeHost();
  h.failNext = "1";
  const q = queueOn(h);
  const [first, second] = await Promise.allSettled([q.submit(addr("a", "198.51.100.1")), q.submit(addr("b", "198.51.100.2"))]);
  expect(second).toMatchObject({ status: "rejected", reason: expect.any(RemoteCommandError) });
  expect(first).toEqual({ status: "fulfilled", value: "198.51.100.1" });
  expect(h.scripts).toHaveLength(2);
  expect(h.scripts[1]).toContain("ip addr replace 198.51.100.1/32 dev eth1");
  expect(h.scripts[1]).not.toContain("198.51.100.2");
});

test("an error thrown while deciding fails its batch and the queue goes on with the next", async () => {
  const h = new FakeHost();
  const q = queueOn(h);
  const boom: Op<string> = {
    label: "boom",
    apply: () => {
      throw new Error("a bug");
    },
  };
  await expect(q.submit(boom)).rejects.toThrow("a bug");
  await expect(q.submit(addr("o", "198.51.100.9"))).resolves.toBe("198.51.100.9");
});
