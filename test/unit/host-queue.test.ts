// The host queue against a fake Host (no SSH): operations that arrive together go out as one
// transaction; a refusal fails only its operation; a failing group fails its operation and the
// others go again; an error thrown while deciding fails that batch and never stops the queue.
import { ClaimError } from "../../provider/holds/plan";
import { HostQueue, Op, queueOf } from "../../provider/runtime/host-queue";
import { Host, RemoteCommandError } from "../../provider/remote/ssh";
import { SECTION } from "../../provider/remote/commands";

/**
 * A fake's locked session (remote/session.ts): it reads what `readNow` says when it opens and
 * after each round with more to come (`rereadNow` after a round of rules only); `run` runs a
 * round's script, throwing as a failing host would (the session then ends).
 */
function fakeSession(readNow: () => string, run: (script: string) => Promise<string>, rereadNow = readNow) {
  let read = Promise.resolve(readNow());
  let open = true;
  return {
    opened: Date.now(),
    get open() {
      return open;
    },
    read: () => read,
    async write(script: string, then?: "read" | "reread") {
      try {
        const out = await run(script);
        if (then) read = Promise.resolve(then === "reread" ? rereadNow() : readNow());
        else open = false;
        return out;
      } catch (e) {
        open = false;
        read = Promise.reject(e);
        read.catch(() => undefined);
        throw e;
      }
    },
    async close() {
      open = false;
    },
  };
}

/** A Host whose sessions read an empty host and record the scripts they were given. */
class FakeHost {
  constructor(readonly target = "root@fake:22") {}
  readonly scripts: string[] = [];
  /** Sessions opened. */
  sessions = 0;
  /** Makes the next write fail on the host, as a failing command in group `group` would. */
  failNext?: string;
  /** How long a write takes on the host. */
  writeMs = 0;
  /** What the host reads (the whole read, and the one after a round of rules only). */
  reads = { whole: "", rules: "" };
  /** The rules-only reads it ran. */
  rereads = 0;
  /** Sessions of one read and no write (a refresh's). */
  refreshReads = 0;
  async readOnce() {
    this.refreshReads++;
    await new Promise((r) => setTimeout(r, 20));
    return this.reads.whole;
  }
  async open() {
    this.sessions++;
    await new Promise((r) => setTimeout(r, 20));
    return fakeSession(
      () => this.reads.whole,
      async (script) => {
        this.scripts.push(script);
        if (this.writeMs) await new Promise((r) => setTimeout(r, this.writeMs));
        const group = this.failNext;
        this.failNext = undefined;
        if (group !== undefined)
          throw new RemoteCommandError(this.target, "batch", 1, "RTNETLINK answers: No such device", `pulumi-lvs-group ${group}\n`);
        return "";
      },
      () => (this.rereads++, this.reads.rules),
    );
  }
}

// The queue only opens sessions and reads target: the one place a fake stands in for a Host.
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

/**
 * A host that runs scripts for real as far as addresses and the ledger go: it keeps the intent a
 * script wrote and the addresses its groups added, and dies at the group `failAt` names (once).
 */
class ReplayingHost {
  readonly target = "root@fake:22";
  readonly scripts: string[] = [];
  private addrs: string[] = [];
  private ledger = "";
  /** The intent of a transaction that has not committed ("" when none). */
  pending = "";
  failAt?: (group: string, script: string) => boolean;
  async open() {
    return fakeSession(
      () => this.read(),
      async (script) => this.run(script),
    );
  }
  private read(): string {
    const ip = this.addrs.map((a, i) => `${i + 3}: eth1    inet ${a}/32 scope global eth1\\       valid_lft forever preferred_lft forever`);
    return [`${SECTION} ledger`, this.ledger, `${SECTION} pending`, this.pending, `${SECTION} addrs`, ...ip].join("\n");
  }
  private run(script: string): string {
    this.scripts.push(script);
    const lines = script.split("\n");
    let out = "";
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i];
      const intent = /^printf '%s\\n' '(.*)' > \S*ledger\.next\.json$/.exec(l)?.[1];
      if (intent !== undefined) this.pending = intent.replace(/'\\''/g, "'");
      const group = /^echo 'pulumi-lvs-group (\S+)'$/.exec(l)?.[1];
      if (group !== undefined) {
        out += `pulumi-lvs-group ${group}\n`;
        if (this.failAt?.(group, script)) {
          this.failAt = undefined;
          throw new RemoteCommandError(this.target, "batch", 1, "RTNETLINK answers: Operation not permitted", out);
        }
      }
      const added = /^ip addr replace (\S+)\/32 dev eth1$/.exec(l)?.[1];
      if (added) this.addrs.push(added);
      const removed = /^ip addr del (\S+)\/32 dev eth1$/.exec(l)?.[1];
      if (removed) this.addrs = this.addrs.filter((a) => a !== removed);
      if (l.startsWith("mv ") && l.includes("ledger.next")) [this.ledger, this.pending] = [this.pending, ""];
    }
    return out;
  }
}

test("no blinking: when one group fails, what the others' groups applied stays applied; they commit in the next transaction", async () => {
  const h = new ReplayingHost();
  // The third operation's group fails after the first two were applied.
  h.failAt = (group) => group === "2";
  const q = new HostQueue(h as unknown as Host);
  const results = await Promise.allSettled(["198.51.100.1", "198.51.100.2", "198.51.100.3"].map((a, i) => q.submit(addr(`o${i}`, a))));
  expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected"]);
  expect(h.scripts).toHaveLength(2);
  // The second transaction neither removes nor adds .1 and .2 again, and .3 (never added) is not touched.
  const second = h.scripts[1];
  for (const a of ["198.51.100.1", "198.51.100.2"]) {
    expect(second).not.toContain(`ip addr del ${a}/32`);
    expect(second).not.toContain(`ip addr replace ${a}/32`);
  }
  expect(second).not.toContain("198.51.100.3");
  expect(h.pending).toBe("");
});

test("one machine, one queue: two users' operations on one host never hold a session at once, and each goes over its own connection", async () => {
  let active = 0;
  let most = 0;
  class UserHost extends FakeHost {
    readonly machine = "fake:22";
    async open() {
      most = Math.max(most, ++active);
      const session = await super.open();
      const close = session.close;
      return Object.assign(session, { close: async () => void (active--, await close()) });
    }
  }
  const root = new UserHost("root@fake:22");
  const ops = new UserHost("ops@fake:22");
  const results = await Promise.all([
    queueOf(root as unknown as Host).submit(addr("a", "198.51.100.1")),
    queueOf(ops as unknown as Host).submit(addr("b", "198.51.100.2")),
    queueOf(root as unknown as Host).submit(addr("c", "198.51.100.3")),
  ]);
  expect(results).toEqual(["198.51.100.1", "198.51.100.2", "198.51.100.3"]);
  expect(most).toBe(1);
  // root's two operations share one session; ops' goes in a session of its own.
  expect(root.scripts).toHaveLength(1);
  expect(root.scripts[0]).toContain("198.51.100.3");
  expect(ops.scripts).toHaveLength(1);
  expect(ops.scripts[0]).toContain("198.51.100.2");
});

test("a burst: a batch that comes soon after the last goes over the same session, on the read the host took after that round; one that comes later opens another", async () => {
  const h = new FakeHost();
  const q = queueOn(h);
  await q.submit(addr("a", "198.51.100.1"));
  await q.submit(addr("b", "198.51.100.2"));
  expect(h.scripts).toHaveLength(2);
  expect(h.sessions).toBe(1);
  await new Promise((r) => setTimeout(r, 1300));
  await q.submit(addr("c", "198.51.100.3"));
  expect(h.sessions).toBe(2);
});

test("after a round of rules only the host reads the IPVS table only again, and the next batch decides on it over the rest of the read before, with our files as that round wrote them", async () => {
  const h = new FakeHost();
  // 198.51.100.9 is on eth1 already: claiming it adds nothing (the ledger records it), so each
  // round writes the ledger only, which counts as rules only.
  h.reads = { whole: `${SECTION} addrs\n3: eth1    inet 198.51.100.9/32 scope global eth1\n`, rules: `${SECTION} ipvs\n` };
  const q = queueOn(h);
  await q.submit(addr("a", "198.51.100.9"));
  await q.submit(addr("b", "198.51.100.9"));
  expect(h.sessions).toBe(1);
  expect(h.rereads).toBe(2); // after each round
  // Had the second batch decided on the reread alone, the address would have been missing, and added.
  expect(h.scripts.join("\n")).not.toContain("ip addr");
  // The host read no ledger again: the second round's ledger is the first round's, with b's hold added.
  const holders = JSON.parse(/^printf '%s\\n' '(.*)' > /m.exec(h.scripts[1])![1]).entries["addr 198.51.100.9/32 eth1"].holders;
  expect(Object.keys(holders).sort()).toEqual(["a", "b"]);
});

test("a batch that writes nothing between rounds of rules only: the next decides on the same read, our files included", async () => {
  const h = new FakeHost();
  h.reads = { whole: `${SECTION} addrs\n3: eth1    inet 198.51.100.9/32 scope global eth1\n`, rules: `${SECTION} ipvs\n` };
  const q = queueOn(h);
  await q.submit(addr("a", "198.51.100.9"));
  await q.submit(addr("a", "198.51.100.9")); // the same claim again: nothing to write
  await q.submit(addr("b", "198.51.100.9"));
  expect(h.sessions).toBe(1);
  expect(h.scripts).toHaveLength(2);
  expect(h.scripts.join("\n")).not.toContain("ip addr");
  const holders = JSON.parse(/^printf '%s\\n' '(.*)' > /m.exec(h.scripts[1])![1]).entries["addr 198.51.100.9/32 eth1"].holders;
  expect(Object.keys(holders).sort()).toEqual(["a", "b"]);
});

test("after a failed round the next batch opens a new session (the failed one ended)", async () => {
  const h = new FakeHost();
  h.failNext = "0";
  const q = queueOn(h);
  await expect(q.submit(addr("a", "198.51.100.1"))).rejects.toThrow("RTNETLINK");
  await expect(q.submit(addr("b", "198.51.100.2"))).resolves.toBe("198.51.100.2");
  expect(h.sessions).toBe(2);
});

test("a session whose read loads kernel modules ends with its write: read again, it would load back a module the write unloaded", async () => {
  const h = new FakeHost();
  const q = queueOn(h);
  const tunnel: Op<string> = { ...addr("t", "198.51.100.7"), needs: { modules: ["ipip"] } };
  await q.submit(tunnel);
  await q.submit(addr("b", "198.51.100.8"));
  expect(h.scripts).toHaveLength(2);
  expect(h.sessions).toBe(2);
});

test("at the engine's parallelism: a batch waits for as many operations as were ever outstanding, so the engine's operations are not split into halves that take turns", async () => {
  const h = new FakeHost();
  h.writeMs = 60;
  const q = queueOn(h);
  // The engine: 4 operations outstanding at a time, the first ones sent over 90 ms (so the first
  // batch has only some of them), each answered one followed by the next a little later.
  const parallel = 4;
  const total = 16;
  let sent = 0;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const send = async (): Promise<void> => {
    if (sent >= total) return;
    const i = sent++;
    await q.submit(addr(`o${i}`, `198.51.100.${i + 1}`));
    await sleep(5 + 5 * (i % parallel));
    return send();
  };
  await Promise.all(Array.from({ length: parallel }, (_, k) => sleep(30 * k).then(send)));
  const perScript = h.scripts.map((s) => s.split("ip addr replace").length - 1);
  expect(perScript.reduce((a, b) => a + b, 0)).toBe(total);
  // The first batch has what came within its wait, the second the rest; then whole rounds, but
  // for the last (what is left).
  expect(perScript.slice(2, -1)).toEqual(Array(perScript.length - 3).fill(parallel));
  expect(perScript.length).toBeLessThanOrEqual(total / parallel + 2);
});

test("after a burst, the queue forgets its width: a lone operation a while later waits for company only briefly", async () => {
  const h = new FakeHost();
  const q = queueOn(h);
  await Promise.all([1, 2, 3, 4].map((i) => q.submit(addr(`o${i}`, `198.51.100.${i}`))));
  expect(h.scripts).toHaveLength(1);
  // Idle longer than a session stays open: the burst is over.
  await new Promise((r) => setTimeout(r, 1300));
  // Two operations 120 ms apart: a batch that still expected 4 would wait 250 ms and take both.
  const first = q.submit(addr("p", "198.51.100.20"));
  await new Promise((r) => setTimeout(r, 120));
  await Promise.all([first, q.submit(addr("q", "198.51.100.21"))]);
  expect(h.scripts).toHaveLength(3);
  expect(h.scripts[1]).toContain("198.51.100.20");
  expect(h.scripts[1]).not.toContain("198.51.100.21");
});

test("a refresh's reads share the last one while it is young; an operation it answers goes at once, without waiting for company", async () => {
  const h = new FakeHost();
  const q = queueOn(h);
  const plans: unknown[] = [];
  const look: Op<void> = { label: "look", readOnly: true, apply: (plan) => void plans.push(plan) };
  // The engine's first four reads: one read of the host for all (and the queue learns a width of 4).
  await Promise.all([1, 2, 3, 4].map(() => q.submit(look)));
  expect(h.refreshReads).toBe(1);
  // The tail: a lone read, then another 100 ms later. Both are answered by that read; the first
  // did not wait (up to 250 ms) for three more to join it: it was answered before the second came.
  let firstAnswered = false;
  const first = q.submit(look).then(() => (firstAnswered = true));
  await new Promise((r) => setTimeout(r, 100));
  expect(firstAnswered).toBe(true);
  await Promise.all([first, q.submit(look)]);
  expect(h.refreshReads).toBe(1);
  // One plan, made once of that read, answered all six.
  expect(plans).toHaveLength(6);
  expect(new Set(plans).size).toBe(1);
});
