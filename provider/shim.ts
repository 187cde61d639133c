// The part of each provider that Pulumi serializes into the state and runs again
// on refresh and destroy. It captures only the provider's name: every method
// require()s the runtime at call time, so the state never holds ssh2/node-ssh
// code, credentials or environment values, and an upgraded pulumi-lvs serves old
// state. (serializeFunction would otherwise capture whole module graphs by value.)
import type * as pulumi from "@pulumi/pulumi";
import type { ProviderName } from "./runtime";

export function shimFor(name: ProviderName): pulumi.dynamic.ResourceProvider {
  return {
    check: (olds, news) => require("pulumi-lvs/runtime").providers[name].check(olds, news),
    diff: (id, olds, news) => require("pulumi-lvs/runtime").providers[name].diff(id, olds, news),
    create: (inputs) => require("pulumi-lvs/runtime").providers[name].create(inputs),
    read: (id, props) => require("pulumi-lvs/runtime").providers[name].read(id, props),
    update: (id, olds, news) => require("pulumi-lvs/runtime").providers[name].update(id, olds, news),
    delete: (id, props) => require("pulumi-lvs/runtime").providers[name].delete(id, props),
  };
}
