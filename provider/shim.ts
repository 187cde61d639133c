// The part of each provider that Pulumi serializes into the state and runs again
// on refresh and destroy. It captures only the provider's name: every method
// require()s the runtime at call time, so the state never holds ssh2/node-ssh
// code, credentials or environment values, and an upgraded pulumi-lvs serves old
// state. (serializeFunction would otherwise capture whole module graphs by value.)
import type * as pulumi from "@pulumi/pulumi";
import type { ProviderName } from "./runtime";

const shims = new Map<ProviderName, pulumi.dynamic.ResourceProvider>();

/**
 * The same object for every resource of a kind: the SDK caches a provider's serialization by
 * object identity, and serializing a function costs tens of milliseconds per resource.
 */
export function shimFor(name: ProviderName): pulumi.dynamic.ResourceProvider {
  let shim = shims.get(name);
  if (!shim) shims.set(name, (shim = makeShim(name)));
  return shim;
}

function makeShim(name: ProviderName): pulumi.dynamic.ResourceProvider {
  return {
    check: (olds, news) => require("pulumi-lvs/runtime").providers[name].check(olds, news),
    diff: (id, olds, news) => require("pulumi-lvs/runtime").providers[name].diff(id, olds, news),
    create: (inputs) => require("pulumi-lvs/runtime").providers[name].create(inputs),
    read: (id, props) => require("pulumi-lvs/runtime").providers[name].read(id, props),
    update: (id, olds, news) => require("pulumi-lvs/runtime").providers[name].update(id, olds, news),
    delete: (id, props) => require("pulumi-lvs/runtime").providers[name].delete(id, props),
  };
}
