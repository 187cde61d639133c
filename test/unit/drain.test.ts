// The drain's wait (runtime/drain.ts) against a fake Host whose reads show the draining
// destinations' active connections going down: each is done when it has none or its own
// drainTimeout passed, the wait ends with the last, and its log says what it waits for.
import { waitDrained, Draining } from "../../provider/runtime/drain";
import { Host } from "../../provider/remote/ssh";
import { SECTION } from "../../provider/remote/commands";

jest.setTimeout(20_000);

const SERVICE = { address: "198.51.100.100", port: 80, protocol: "tcp" as const };
const backend = (n: number) => `198.51.100.${10 + n}`;
const draining = (n: number, drainTimeout: number): Draining => ({
  name: `${backend(n)}:80 of tcp/198.51.100.100:80`,
  dest: { service: SERVICE, dest: { address: backend(n), port: 80, forwarding: "direct", weight: 0 } },
  active: 1,
  drainTimeout,
});

/** A host whose IPVS table has backends 1..count at weight 0; each read takes its active connections from `reads` (the last again). */
class FakeHost {
  readonly target = "root@drain-fake:22";
  readonly machine: string;
  reads = 0;
  constructor(
    private readonly count: number,
    private readonly actives: number[][],
  ) {
    this.machine = `drain-fake-${Math.random()}`;
  }
  async readOnce(): Promise<string> {
    const active = this.actives[Math.min(this.reads++, this.actives.length - 1)];
    const ns = Array.from({ length: this.count }, (_, i) => i + 1);
    return [
      `${SECTION} ipvs`,
      "-A -t 198.51.100.100:80 -s rr",
      ...ns.map((n) => `-a -t 198.51.100.100:80 -r ${backend(n)}:80 -g -w 0`),
      `${SECTION} thresholds`,
      "IP Virtual Server version 1.2.1 (size=4096)",
      "Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn",
      "  -> RemoteAddress:Port",
      "TCP  198.51.100.100:80 rr",
      ...ns.map((n) => `  -> ${backend(n)}:80             0          0          ${active[n - 1]}          0`),
      "",
    ].join("\n");
  }
}

test("each destination is done when its connections ended or its own drainTimeout passed; the wait ends with the last", async () => {
  // Backend 1's connection ends by the first look; backend 2 keeps 2 until its 3 s pass.
  const host = new FakeHost(2, [[0, 2]]);
  const log: string[] = [];
  await waitDrained(host as unknown as Host, [draining(1, 60), draining(2, 3)], (m) => log.push(m));
  expect(log[0]).toBe(
    "root@drain-fake:22: draining 2 destinations (198.51.100.11:80 of tcp/198.51.100.100:80, 198.51.100.12:80 of tcp/198.51.100.100:80): weight 0, 2 active connection(s), up to 60s more",
  );
  expect(log).toContain("root@drain-fake:22: 198.51.100.11:80 of tcp/198.51.100.100:80 drained");
  expect(log[log.length - 1]).toBe(
    "root@drain-fake:22: 198.51.100.12:80 of tcp/198.51.100.100:80: drainTimeout 3s passed with 2 active connection(s); removing it",
  );
  // Looked at 2 s and at backend 2's deadline (3 s; that look may share the read of 2 s), then
  // done: backend 1's 60 s no longer counted once it drained (else this would outlast the test's 20 s).
  expect(host.reads).toBeLessThanOrEqual(2);
});

test("many destinations draining at once are named three and a count, and each drained one is said", async () => {
  const host = new FakeHost(5, [[0, 0, 0, 0, 0]]);
  const log: string[] = [];
  await waitDrained(
    host as unknown as Host,
    [1, 2, 3, 4, 5].map((n) => draining(n, 30)),
    (m) => log.push(m),
  );
  expect(log[0]).toContain(
    "draining 5 destinations (198.51.100.11:80 of tcp/198.51.100.100:80, 198.51.100.12:80 of tcp/198.51.100.100:80, 198.51.100.13:80 of tcp/198.51.100.100:80, and 2 more): weight 0, 5 active connection(s)",
  );
  expect(log.slice(1)).toEqual([1, 2, 3, 4, 5].map((n) => `root@drain-fake:22: ${backend(n)}:80 of tcp/198.51.100.100:80 drained`));
  expect(host.reads).toBe(1);
});
