// Makes `require("pulumi-lvs/runtime")` resolve inside this repository, as it does
// in a user's project where pulumi-lvs is an installed dependency. The serialized
// provider shims require the runtime by package name at call time (provider/shim.ts),
// and the repo's own programs (the root program, examples, tests) need that too.
const fs = require("fs");
const path = require("path");

const root = path.resolve(__dirname, "..");
if (root.split(path.sep).includes("node_modules")) process.exit(0); // installed as a dependency: nothing to do
const link = path.join(root, "node_modules", "pulumi-lvs");
try {
  if (fs.readlinkSync(link) === "..") process.exit(0);
  fs.unlinkSync(link);
} catch {
  /* absent */
}
fs.mkdirSync(path.dirname(link), { recursive: true });
fs.symlinkSync("..", link, "dir");
