// One locked session on a host, over one exec channel: the host lock is taken, the read runs,
// then rounds of writes. A round sent as "more to come" is followed, on the host and still under
// the lock, by the read again; the client decides the next round on that read while the engine
// sends it the next operations, so a burst of rounds holds the lock once and pays no new session,
// lock or process start per round. The last round (or closing the channel) ends the session and
// releases the lock. The protocol's host half is session-host.sessionCommand.
import type { ClientChannel } from "ssh2";
import { ROUND_END, SCRIPT_END, SCRIPT_MORE, SCRIPT_MORE_RULES, TRANSACTION_MARKER } from "./session-host";

export class RemoteCommandError extends Error {
  constructor(
    target: string,
    public readonly summary: string,
    public readonly exitCode: number | null,
    public readonly stderr: string,
    public readonly stdout = "",
  ) {
    super(`${target}: \`${summary}\` failed (exit ${exitCode}): ${stderr.trim() || "(no output on stderr)"}`);
  }
}

/** What the session needs from its connection: names, and why it died. */
export interface SessionContext {
  target: string;
  summary: string;
  sudo: boolean;
  /** Why the connection died, when it did (undefined: it is alive). */
  lost(): string | undefined;
  /** Closes the whole connection: a host that stopped answering inside a bounded wait. */
  abandon(): void;
}

/** The end of a phase the caller has not asked for yet: kept until it does. */
type Deferred = { promise: Promise<string>; resolve(v: string): void; reject(e: Error): void };
const deferred = (): Deferred => {
  let resolve!: (v: string) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<string>((res, rej) => ((resolve = res), (reject = rej)));
  // Nobody may ever ask for a post-read the session was closed before: never an unhandled rejection.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
};

type Phase = "read" | "idle" | "round" | "last" | "closed";

export class Session {
  private phase: Phase = "read";
  private out = "";
  /** How much of `out` was searched for the phase's end marker (see data). */
  private scanned = 0;
  private err = "";
  private pending = deferred();
  private timer?: NodeJS.Timeout;
  private failure?: Error;
  /** Settles when the channel is closed. */
  readonly closed: Promise<void>;
  /** When the session began (it holds the host lock from shortly after). */
  readonly opened = Date.now();

  /** `firstLimit`: seconds for the lock and the first read; `budget`: seconds for each later phase. */
  constructor(
    private readonly stream: ClientChannel,
    private readonly ctx: SessionContext,
    firstLimit: number,
    private readonly budget: number,
  ) {
    this.bound(firstLimit, `${firstLimit - budget}s for the host lock, then ${budget}s`);
    stream.on("data", (d: Buffer) => this.data(d.toString("utf8")));
    stream.stderr.on("data", (d: Buffer) => (this.err += d.toString("utf8")));
    this.closed = new Promise((resolve) => stream.on("close", (code: number | null) => resolve(this.ended(code))));
  }

  /** The output of the read that is running or ran last (the first one, or the one after a round with more to come). */
  read(): Promise<string> {
    return this.pending.promise;
  }

  /**
   * Sends one round's script; resolves with its output once it ran. With `then`, the host reads
   * again after it (read() then gives that read): all of it, or the rules only (see
   * session-host.sessionCommand); without, the session ends after it.
   */
  write(script: string, then?: "read" | "reread"): Promise<string> {
    if (this.phase !== "idle") return Promise.reject(new Error(`${this.ctx.target}: no read to write after (session ${this.phase})`));
    this.phase = then ? "round" : "last";
    this.pending = deferred();
    this.err = "";
    this.bound(this.budget, `${this.budget}s`);
    this.stream.write(`${script}\n${then === "read" ? SCRIPT_MORE : then === "reread" ? SCRIPT_MORE_RULES : SCRIPT_END}\n`);
    return this.pending.promise;
  }

  /** Ends the session (the host then releases the lock); settles once the channel is closed. */
  close(): Promise<void> {
    if (this.phase !== "closed") this.stream.end("");
    return this.closed;
  }

  get open(): boolean {
    return this.phase !== "closed";
  }

  /** Bounds the phase that starts: a host that stops answering inside it has its connection closed. */
  private bound(seconds: number, parts: string): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.failure = new Error(
        `${this.ctx.target}: \`${this.ctx.summary}\` did not finish within ${seconds}s (${parts}); ` +
          `its session was closed. Check that the host answers (\`ssh ${this.ctx.target}\`), then run again: what it left half done is undone first`,
      );
      this.pending.reject(this.failure);
      this.ctx.abandon();
    }, seconds * 1000);
  }

  private data(text: string): void {
    this.out += text;
    const marker = this.phase === "read" ? TRANSACTION_MARKER : this.phase === "round" ? ROUND_END : undefined;
    if (!marker) return;
    // From where the last chunk's search stopped (less a marker's length, which may straddle two
    // chunks): a large read comes in many chunks, and searching it whole each time is quadratic.
    const at = this.out.indexOf(`${marker}\n`, Math.max(0, this.scanned - marker.length));
    this.scanned = at < 0 ? this.out.length : 0;
    if (at < 0) return;
    const phaseOut = this.out.slice(0, at);
    this.out = this.out.slice(at + marker.length + 1);
    const done = this.pending;
    if (this.phase === "read") {
      this.phase = "idle";
      clearTimeout(this.timer);
    } else {
      // The host reads again right away, under the same lock.
      this.phase = "read";
      this.pending = deferred();
      this.bound(this.budget, `${this.budget}s`);
    }
    done.resolve(phaseOut);
    // The read after a round may have come in the same chunk.
    if (this.out) this.data("");
  }

  private ended(code: number | null): void {
    clearTimeout(this.timer);
    const phase = this.phase;
    this.phase = "closed";
    if (phase === "last" && code === 0) return this.pending.resolve(this.out);
    this.pending.reject(this.failure ?? this.error(code, phase));
  }

  private error(code: number | null, phase: Phase): Error {
    const { target, summary } = this.ctx;
    if (this.ctx.sudo && /sudo: (a password is required|a terminal is required)/.test(this.err)) {
      return new Error(
        `${target}: sudo wants a password; pulumi-lvs runs commands with \`sudo -n\`, so grant this user passwordless sudo (NOPASSWD) or connect as root`,
      );
    }
    const lost = this.ctx.lost();
    if ((code === null || code === undefined) && lost) {
      return new Error(
        `${target}: the connection was lost during \`${summary}\` (${lost}); ` +
          `on the host it stops once it notices, and what it left half done is undone by the next run`,
      );
    }
    if (phase === "idle" && code === 0) return new Error(`${target}: the session of \`${summary}\` was closed`);
    return new RemoteCommandError(target, summary, code, this.err, this.out);
  }
}
