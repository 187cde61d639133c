// The e2e project's jest environment: jest worker N drives lab N (test/lab/labs.sh env N), so
// test files run on several labs at once. It sets the lab's variables in the worker's real
// process.env before the test's sandbox is made: a test's own process.env is a copy, and child
// processes (lab.sh, ssh, pulumi) inherit the real one, so setting them from a test would not do.
const { execFileSync } = require("child_process");
const path = require("path");
const { TestEnvironment } = require("jest-environment-node");

const worker = process.env.JEST_WORKER_ID ?? "1";
const labsh = path.join(__dirname, "../lab/labs.sh");
for (const line of execFileSync("bash", [labsh, "env", worker], { encoding: "utf8" }).trim().split("\n")) {
  const eq = line.indexOf("=");
  process.env[line.slice(0, eq)] = line.slice(eq + 1);
}
process.env.PULUMI_LVS_E2E_LAB = worker;

module.exports = TestEnvironment;
