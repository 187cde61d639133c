// Writes schema.json, the lvs provider plugin's package schema, from the built model
// (bin/provider/plugin/schema.js): `make schema` after a change to the model. A unit test
// (test/unit/schema.test.ts) fails while the file and the model disagree.
const fs = require("fs");
const path = require("path");
const { packageSchema } = require("../bin/provider/plugin/schema");
fs.writeFileSync(path.join(__dirname, "..", "schema.json"), JSON.stringify(packageSchema(), null, 2) + "\n");
