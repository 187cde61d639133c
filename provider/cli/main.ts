#!/usr/bin/env node
// The `pulumi-lvs` command (a bin of the npm package): tools for operators, beside the provider.
//   pulumi-lvs ledger show <connection> [--json]
//   pulumi-lvs ledger release <connection> (--owner URN... | --stack NAME) [--yes] [--json]
//   pulumi-lvs scan <director> [--backend <connection>]... [--format ts|yaml|config|json] [--inline] [--name PROJECT]
// Exit status: 0 done, 1 failed (the message says why), 2 usage.
import { parseArgs } from "util";
import { disconnectAll, connect } from "../remote/ssh";
import { CONNECTION_OPTIONS, UsageError, connectionOf } from "./connection-flags";
import { confirm, ownersOf, readLedger, release, rows, table, where } from "./ledger";
import { scanCommand } from "./scan";

const USAGE = `usage:
  pulumi-lvs ledger show <connection> [--json]
  pulumi-lvs ledger release <connection> (--owner URN ... | --stack NAME) [--yes] [--json]
  pulumi-lvs scan <director> [--backend <connection>]... [--format ts|yaml|config|json] [--inline] [--name PROJECT] [--out FILE]
      reads a hand-built LVS cluster (read only) and prints the program that adopts it

<connection> is [user@]host[:port] (default user root, port 22); the host key must be known:
  --known-hosts FILE (default ~/.ssh/known_hosts) or --host-key "ssh-ed25519 AAAA..." | SHA256:...
credentials: --key FILE [--key-passphrase-env VAR] | --agent | --password-env VAR
  --proxy [user@]host[:port]   a jump host (same credentials and known_hosts)
  --lock-timeout SECONDS       how long to wait for the host lock (default 120)
scan: every --backend takes the same credentials and known_hosts as <director> (--host-key is the director's);
  --inline writes each service's backends inline (realServers), one resource per pool, not one RealServer each`;

async function ledgerCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...CONNECTION_OPTIONS,
      json: { type: "boolean" },
      owner: { type: "string", multiple: true },
      stack: { type: "string" },
      yes: { type: "boolean" },
    },
  });
  const [verb, target, ...rest] = positionals;
  if (verb !== "show" && verb !== "release") throw new UsageError(`ledger: expected show or release, got ${JSON.stringify(verb ?? "")}`);
  if (rest.length) throw new UsageError(`ledger ${verb}: unexpected ${JSON.stringify(rest[0])}`);
  if (verb === "release" && !values.owner?.length && values.stack === undefined)
    throw new UsageError("ledger release: say whose holds to release: --owner URN (repeatable) or --stack NAME");
  const c = connectionOf(target, values);
  const host = await connect(c);
  const { ledger, resolved } = await readLedger(host);
  if (verb === "show") {
    if (values.json) return print({ ...where(c), holds: rows(ledger), resolved });
    print(rows(ledger).length ? table(rows(ledger)) : `${host.target}: the ledger holds nothing`);
    for (const r of resolved) print(`resolved on reading: ${r.key} held by ${r.holders.join(", ")} (${r.reason}); the next write drops it`);
    return;
  }
  const owners = ownersOf(ledger, { owner: values.owner, stack: values.stack });
  if (!owners.length)
    throw new Error(
      `${host.target}: no holder matches ${values.stack !== undefined ? `stack ${values.stack}` : values.owner!.join(", ")}; nothing was changed (see \`pulumi-lvs ledger show\`)`,
    );
  const doomed = rows(ledger).filter((r) => owners.includes(r.owner));
  if (!values.json) print(table(doomed));
  if (!values.yes && !(await confirm(`${host.target}: release these ${doomed.length} hold(s) of ${owners.length} holder(s)?`))) {
    throw new Error("not confirmed; nothing was changed");
  }
  const { commands } = await release(host, ledger, owners);
  if (values.json) return print({ ...where(c), released: doomed, commands });
  print(`${host.target}: released ${doomed.length} hold(s); ${commands.length} command(s) put the host back`);
}

const print = (v: unknown): void => void process.stdout.write(`${typeof v === "string" ? v : JSON.stringify(v, null, 2)}\n`);

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === "ledger") await ledgerCommand(rest);
    else if (command === "scan") await scanCommand(rest, print);
    else if (command === "--help" || command === "-h" || command === "help") print(USAGE);
    else throw new UsageError(`unknown command ${JSON.stringify(command ?? "")}`);
    return 0;
  } catch (e) {
    const usage = e instanceof UsageError || (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS");
    process.stderr.write(`pulumi-lvs: ${(e as Error).message}\n${usage ? `\n${USAGE}\n` : ""}`);
    return usage ? 2 : 1;
  } finally {
    disconnectAll();
  }
}

void main(process.argv.slice(2)).then((code) => process.exit(code));
