// Copies the files the compiled provider reads at run time (the restore script) next to it in
// bin/, and makes the command-line tool and the provider plugin executable (npm does that for
// installed packages only).
const fs = require("fs");
const path = require("path");
const root = path.resolve(__dirname, "..");
for (const f of ["provider/remote/restore.sh"]) {
  fs.mkdirSync(path.join(root, "bin", path.dirname(f)), { recursive: true });
  fs.copyFileSync(path.join(root, f), path.join(root, "bin", f));
}
for (const f of ["bin/provider/cli/main.js", "bin/provider/plugin/main.js"]) fs.chmodSync(path.join(root, f), 0o755);
