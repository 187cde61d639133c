// The model's doc comments (provider/model/), by resource and dotted path, for the plugin's
// schema: "VirtualService.healthCheck.port" -> "Port to check; default: the real server's port."
// The TypeScript checker follows each resource's input and output types (z.input / z.output of
// its schemas) back to the declarations of their fields, so a field shared by several
// resources (connection.*) carries the one comment written on it. Used by `make schema`
// (tools/write-schema.js) and by the unit test that compares schema.json with the model.
const path = require("path");
const ts = require("typescript");

const ROOT = path.join(__dirname, "..");
const KINDS = ["DirectorHost", "VirtualService", "RealServer", "DrRealServerHost", "TunRealServerHost", "NatRealServerHost"];
/** How deep a path goes: resource fields, their objects' fields, and so on. */
const DEPTH = 5;

/** A file that names, for each root, the types whose fields are documented (inputs first). */
function entryText() {
  const lines = ['import * as m from "./model";', 'import type { z } from "zod";'];
  for (const k of KINDS) lines.push(`export type ${k} = z.input<typeof m.${k}Args> & z.output<typeof m.${k}Outputs>;`);
  lines.push("export type Cluster = z.input<typeof m.ClusterArgs>;");
  lines.push("export type Provider = { connection: z.input<typeof m.DefaultConnection> };");
  return lines.join("\n") + "\n";
}

/** { "Root.path.to.field": "its doc comment" } for every documented field. */
function modelDocs() {
  const entry = path.join(ROOT, "provider", "__model_docs__.ts");
  const host = ts.createCompilerHost({});
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.getSourceFile = (f, lang, ...rest) => (f === entry ? ts.createSourceFile(f, entryText(), lang) : getSourceFile(f, lang, ...rest));
  host.fileExists = (f) => f === entry || fileExists(f);
  const options = {
    strict: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    skipLibCheck: true,
    noEmit: true,
  };
  const program = ts.createProgram([entry], options, host);
  const checker = program.getTypeChecker();
  const docs = {};
  const walk = (type, at, depth) => {
    if (depth > DEPTH) return;
    type = checker.getNonNullableType(type);
    if (type.isUnion() || type.isIntersection()) return type.types.forEach((t) => walk(t, at, depth));
    if (checker.isArrayType(type)) return walk(checker.getTypeArguments(type)[0], at, depth);
    if (!(type.flags & ts.TypeFlags.Object)) return;
    for (const p of checker.getPropertiesOfType(type)) {
      const key = `${at}.${p.name}`;
      const doc = ts.displayPartsToString(p.getDocumentationComment(checker)).replace(/\s+/g, " ").trim();
      if (doc && !docs[key]) docs[key] = doc;
      const decl = p.valueDeclaration ?? p.declarations?.[0];
      if (decl) walk(checker.getTypeOfSymbolAtLocation(p, decl), key, depth + 1);
    }
  };
  for (const stmt of program.getSourceFile(entry).statements)
    if (ts.isTypeAliasDeclaration(stmt)) walk(checker.getTypeAtLocation(stmt.name), stmt.name.text, 0);
  return Object.fromEntries(Object.entries(docs).sort(([a], [b]) => a.localeCompare(b)));
}

module.exports = { modelDocs };
