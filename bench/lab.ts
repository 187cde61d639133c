// The bench's view of the VM lab: the director's address and key, commands on it as `ops`
// (not counted as sessions), one timed root ssh session (the baseline), and sshd's journal,
// where the SSH sessions each step opened are counted.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

/** Wall-clock milliseconds. */
export const hr = () => Number(process.hrtime.bigint()) / 1e6;

function findRepo(): string {
  for (let d = __dirname; d !== path.dirname(d); d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, "test/lab/lab.sh"))) return d;
  }
  throw new Error(`cannot find the repository root above ${__dirname}`);
}
export const REPO = findRepo();
const LAB = path.join(REPO, "test/lab/lab.sh");
export const PROGRAMS = path.join(REPO, "bench/programs");

export interface LabHost {
  name: string;
  sshHost: string;
  sshPort: number;
  user: string;
  keyPath: string;
  running: boolean;
}
export interface LabStatus {
  stateDir: string;
  hosts: LabHost[];
}

export function labStatus(): LabStatus {
  const r = spawnSync("bash", [LAB, "status", "--json"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`lab status failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as LabStatus;
}

/** A command on the director as `ops` (via sudo): these sessions are not root's, so they are not counted. */
export function asOps(cmd: string): string {
  const r = spawnSync("bash", [LAB, "ssh", "director", "--user", "ops", "--", `sudo -n sh -c ${JSON.stringify(cmd)}`], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`on the director (as ops): \`${cmd}\` failed (exit ${r.status}): ${r.stderr}`);
  return r.stdout;
}

const SSH_OPTS = [
  "-F",
  "/dev/null",
  "-o",
  "BatchMode=yes",
  "-o",
  "StrictHostKeyChecking=no",
  "-o",
  "UserKnownHostsFile=/dev/null",
  "-o",
  "GlobalKnownHostsFile=/dev/null",
  "-o",
  "LogLevel=ERROR",
  "-o",
  "ConnectTimeout=30",
  "-o",
  "IdentitiesOnly=yes",
  "-o",
  "IdentityAgent=none",
];

/** The director's sshd journal, read between marks. */
export class SshdLog {
  /** The journal cursor of the last ssh.service entry so far. */
  mark(): string {
    const out = asOps("journalctl -u ssh -n 1 -o cat --show-cursor --no-pager");
    const m = /^-- cursor: (\S+)/m.exec(out);
    if (!m) throw new Error(`no journal cursor in: ${out}`);
    return m[1];
  }

  /** SSH sessions root opened after the mark (every column connects as root; these queries as ops). */
  sessionsSince(cursor: string): number {
    const out = asOps(`journalctl -u ssh -o cat --no-pager --after-cursor='${cursor}'`);
    return out.split("\n").filter((l) => /^Accepted \S+ for root from /.test(l)).length;
  }
}

/** One ssh session as root running `cmd` with `input` on stdin; timed, as the baseline's second half. */
export function sshOnce(director: LabHost, cmd: string, input: string, timeoutMs: number): { ms: number } {
  const t0 = hr();
  const r = spawnSync("ssh", [...SSH_OPTS, "-i", director.keyPath, "-p", String(director.sshPort), `root@${director.sshHost}`, cmd], {
    input,
    encoding: "utf8",
    timeout: timeoutMs,
  });
  const ms = hr() - t0;
  if (r.status !== 0) throw new Error(`ssh ${cmd} failed (exit ${r.status}): ${r.stderr}`);
  return { ms };
}
