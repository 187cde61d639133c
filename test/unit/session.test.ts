// The client half of a locked session (remote/session.ts) against a fake channel that answers as
// the host half does (session-host.sessionCommand, tested through sh in commands.test.ts): reads and
// rounds delimited by their markers however the bytes are split, a failed round reported with its
// own output, a session closed while idle ending cleanly.
import { EventEmitter } from "events";
import type { ClientChannel } from "ssh2";
import { ROUND_END, SCRIPT_END, SCRIPT_MORE, TRANSACTION_MARKER } from "../../provider/remote/session-host";
import { RemoteCommandError, Session } from "../../provider/remote/session";

class FakeChannel extends EventEmitter {
  readonly stderr = new EventEmitter();
  readonly written: string[] = [];
  ended = false;
  write(s: string) {
    this.written.push(s);
    return true;
  }
  end() {
    this.ended = true;
    setImmediate(() => this.emit("close", 0));
  }
  /** The host prints `text`, one byte at a time: no marker may depend on how the bytes come. */
  say(text: string) {
    for (const c of text) this.emit("data", Buffer.from(c));
  }
}

const ctx = { target: "root@fake:22", summary: "2 operation(s)", sudo: false, lost: () => undefined, abandon: () => undefined };
const open = () => {
  const ch = new FakeChannel();
  return { ch, session: new Session(ch as unknown as ClientChannel, ctx, 60, 30) };
};

test("a burst: the read, a round with more to come, the read after it, a last round", async () => {
  const { ch, session } = open();
  ch.say(`ipvs 0\n${TRANSACTION_MARKER}\n`);
  expect(await session.read()).toBe("ipvs 0\n");
  const first = session.write("ipvsadm -a ...", "read");
  expect(ch.written).toEqual([`ipvsadm -a ...\n${SCRIPT_MORE}\n`]);
  ch.say(`pulumi-lvs-group 0\n${ROUND_END}\nipvs 1\n${TRANSACTION_MARKER}\n`);
  expect(await first).toBe("pulumi-lvs-group 0\n");
  expect(await session.read()).toBe("ipvs 1\n");
  const last = session.write("ipvsadm -d ...");
  expect(ch.written[1]).toBe(`ipvsadm -d ...\n${SCRIPT_END}\n`);
  ch.say("pulumi-lvs-group 0\n");
  ch.emit("close", 0);
  expect(await last).toBe("pulumi-lvs-group 0\n");
  expect(session.open).toBe(false);
});

test("a failed round fails with its own output and stderr (where it stopped), and ends the session", async () => {
  const { ch, session } = open();
  ch.say(`${TRANSACTION_MARKER}\n`);
  await session.read();
  const round = session.write("...", "read");
  ch.say("pulumi-lvs-group 3\n");
  ch.stderr.emit("data", Buffer.from("RTNETLINK answers: File exists\n"));
  ch.emit("close", 2);
  const e = await round.catch((x: unknown) => x);
  expect(e).toBeInstanceOf(RemoteCommandError);
  expect(e).toMatchObject({
    exitCode: 2,
    stdout: "pulumi-lvs-group 3\n",
    message: expect.stringContaining("RTNETLINK answers: File exists"),
  });
  expect(session.open).toBe(false);
  await expect(session.read()).rejects.toThrow();
});

test("the lock not taken: the read fails with the host's words; closing an idle session ends it cleanly", async () => {
  const { ch, session } = open();
  ch.stderr.emit("data", Buffer.from("the pulumi-lvs lock (/run/pulumi-lvs.lock) is still held after 5s\n"));
  ch.emit("close", 75);
  await expect(session.read()).rejects.toThrow("is still held after 5s");
  const idle = open();
  idle.ch.say(`${TRANSACTION_MARKER}\n`);
  await idle.session.read();
  await idle.session.close();
  expect(idle.ch.ended).toBe(true);
  expect(idle.session.open).toBe(false);
});
