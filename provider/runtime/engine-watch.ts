// A dynamic provider process outlives a `pulumi` that was killed (nothing stops a plugin then):
// its queued transactions would still write to their hosts when their turn came, leaving
// holders that no stack knows. So the provider process watches the engine that started it (the
// address it was given to talk back to) and, once that stops answering, closes every SSH
// connection (each host then stops what it was running for us, see session-host.sessionCommand)
// and exits.
import * as net from "net";
import { disconnectAll } from "../remote/ssh";

/** How often the engine is looked for, and how many misses in a row mean it is gone. */
const EVERY_MS = 2000;
const MISSES = 2;
const ENGINE = /^(127\.0\.0\.1|localhost):(\d+)$/;

let watching = false;

/**
 * Starts watching, once, when this process is a provider the engine started: the dynamic
 * provider (`dynamic-provider ENGINE_ADDRESS`) or our plugin (`pulumi-resource-lvs ENGINE_ADDRESS`).
 */
export function watchEngine(argv: string[] = process.argv, provider = /dynamic-provider/.test(argv[1] ?? "")): void {
  const engine = ENGINE.exec(argv[2] ?? "");
  if (watching || !engine || !provider) return;
  watching = true;
  let misses = 0;
  const timer = setInterval(() => {
    const probe = net.connect(Number(engine[2]), engine[1]);
    probe.once("connect", () => {
      misses = 0;
      probe.destroy();
    });
    probe.once("error", () => {
      if (++misses < MISSES) return;
      disconnectAll();
      process.exit(1);
    });
  }, EVERY_MS);
  timer.unref();
}
