// The text Pulumi stores in the state as each dynamic resource's provider (`__provider`) and
// runs again on refresh and destroy. Pulumi's dynamic provider evaluates it as a module and
// calls its `handler()` for the provider object. Ours only names the kind: the handler
// require()s the installed runtime at call time, so the state never holds ssh2/node-ssh code,
// credentials or environment values, and an upgraded pulumi-lvs serves old state.
//
// Written by hand rather than by pulumi.runtime.serializeFunction (what dynamic.Resource does):
// a serialized closure of the six methods is 2 kB, stored twice per resource (inputs and
// outputs), and the engine writes the whole state twice per step; this is under 100 bytes.
// State written by earlier releases holds the serialized closure, which requires the same
// runtime and keeps working; a changed shim is no change to a resource (diff compares inputs).
import type { ProviderName } from "./runtime";

/** The `__provider` text of a kind: a module whose handler returns the runtime's provider. */
export const shimText = (name: ProviderName): string =>
  `exports.handler = () => require("pulumi-lvs/runtime").providers[${JSON.stringify(name)}];\n`;

/** The type token Pulumi's dynamic provider serves: dynamic.Resource's, for module "lvs". */
export const dynamicType = (name: ProviderName): string => `pulumi-nodejs:dynamic/lvs:${name}`;
