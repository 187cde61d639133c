// Benchmark: what the shared, pooled SSH connection buys. Runs the read every resource
// does (ipvsadm -S -n plus thresholds) N times against the lab director, first with a
// fresh SSH connection per read (the baseline: what a script-per-step approach pays),
// then through pulumi-lvs's pool (one connection, up to 4 commands at a time).
// Prints figures and the ratio; asserts nothing. Usage: make bench (lab running).
const { execFileSync } = require("child_process");
const fs = require("fs");
const path = require("path");
const { NodeSSH } = require("node-ssh");
const ssh = require("../bin/provider/remote/ssh");
const { ipvs, wrap } = require("../bin/provider/remote/commands");

const N = Number(process.env.BENCH_READS || 20);
const lab = JSON.parse(execFileSync("bash", [path.join(__dirname, "../test/lab/lab.sh"), "status", "--json"], { encoding: "utf8" }));
const d = lab.hosts.find((h) => h.name === "director");
if (!d.running) throw new Error("the lab is not running: npm run lab -- up");
const privateKey = fs.readFileSync(d.keyPath, "utf8");
const conn = { host: d.sshHost, port: d.sshPort, user: "root", privateKey, dialErrorLimit: 1, perDialTimeout: 30 };
const cmd = wrap(ipvs.readTable(), { sudo: false, lock: false });

async function timed(label, fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  console.log(`${label.padEnd(44)} ${ms.toFixed(0).padStart(7)} ms total  ${(ms / N).toFixed(1).padStart(7)} ms/read`);
  return ms;
}

(async () => {
  console.log(`${N} reads of the IPVS table on ${d.user}@${d.sshHost}:${d.sshPort}`);
  const fresh = await timed("baseline: new SSH connection per read", async () => {
    for (let i = 0; i < N; i++) {
      const c = new NodeSSH();
      await c.connect({ host: conn.host, port: conn.port, username: "root", privateKey });
      await c.execCommand(cmd);
      c.dispose();
    }
  });
  const pooledSeq = await timed("pooled connection, one read at a time", async () => {
    const host = await ssh.connect(conn);
    for (let i = 0; i < N; i++) await host.run(ipvs.readTable());
  });
  const pooledPar = await timed("pooled connection, reads in parallel", async () => {
    const host = await ssh.connect(conn);
    await Promise.all(Array.from({ length: N }, () => host.run(ipvs.readTable())));
  });
  console.log(`speed-up over baseline: ${(fresh / pooledSeq).toFixed(1)}x sequential, ${(fresh / pooledPar).toFixed(1)}x parallel`);
  process.exit(0);
})().catch((e) => { console.error(e.message); process.exit(1); });
