// Writes schema.json, the lvs provider plugin's package schema, from the built model
// (bin/provider/plugin/schema.js) and the model's doc comments (tools/model-docs.js):
// `make schema` after a change to the model. The plugin serves this file; a unit test
// (test/unit/schema.test.ts) fails while the file and the model disagree.
const fs = require("fs");
const path = require("path");
const { packageSchema } = require("../bin/provider/plugin/schema");
const { modelDocs } = require("./model-docs");
fs.writeFileSync(path.join(__dirname, "..", "schema.json"), JSON.stringify(packageSchema(modelDocs()), null, 2) + "\n");
