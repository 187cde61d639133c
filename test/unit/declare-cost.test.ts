// Declaring a resource costs the program little: the SDK's promise-leak stacks are not taken for
// its properties (resources.ts says why), while the resource's own source position still is,
// the process's stack limit is left as it was, and an error thrown while declaring keeps a stack.
import { mockEngine } from "./mock-engine";

jest.setTimeout(30_000);

mockEngine();
const connection = { host: "127.0.0.1", privateKey: "k" };

/** How many stacks with frames are formatted while `f` runs (each is one `.stack` the V8 formatter builds). */
function stacksTaken(f: () => void): number {
  const before = Error.prepareStackTrace;
  let n = 0;
  Error.prepareStackTrace = (e, frames) => {
    if (frames.length > 0) n++;
    return before ? before(e, frames) : `${String(e)}\n${frames.map((f) => `    at ${String(f)}`).join("\n")}`;
  };
  try {
    f();
  } finally {
    Error.prepareStackTrace = before;
  }
  return n;
}

test("a RealServer is declared with at most the SDK's own source-position stacks, and the stack limit is restored", async () => {
  const { VirtualService, RealServer } = await import("../../provider");
  const service = new VirtualService("svc", { connection, address: "198.51.100.100", port: 80 });
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 17;
  try {
    let rs: InstanceType<typeof RealServer> | undefined;
    // The SDK takes its source position with a stack or two; the leak report's were 75.
    expect(stacksTaken(() => (rs = new RealServer("a", { service, address: "198.51.100.11" })))).toBeLessThanOrEqual(3);
    expect(Error.stackTraceLimit).toBe(17);
    expect(rs).toBeDefined();
  } finally {
    Error.stackTraceLimit = limit;
  }
});

test("with PULUMI_DEBUG_PROMISE_LEAKS set, the leak report's stacks are taken as the SDK does", async () => {
  const { VirtualService, RealServer } = await import("../../provider");
  const service = new VirtualService("svc2", { connection, address: "198.51.100.101", port: 80 });
  process.env.PULUMI_DEBUG_PROMISE_LEAKS = "true";
  try {
    expect(stacksTaken(() => new RealServer("b", { service, address: "198.51.100.12" }))).toBeGreaterThan(20);
  } finally {
    delete process.env.PULUMI_DEBUG_PROMISE_LEAKS;
  }
});

test("an error thrown while declaring keeps a stack that leads to the declaration", async () => {
  const { DrRealServerHost } = await import("../../provider");
  const limit = Error.stackTraceLimit;
  let thrown: unknown;
  try {
    // No name: the SDK refuses it in the constructor.
    new DrRealServerHost(undefined as unknown as string, { connection, vips: ["198.51.100.100"] });
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(Error);
  expect((thrown as Error).message).toMatch(/name/);
  expect((thrown as Error).stack).toContain("declare-cost.test");
  expect(Error.stackTraceLimit).toBe(limit);
});
