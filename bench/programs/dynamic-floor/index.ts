// The floor of Pulumi's dynamic resources: the lvs program's resources (one per service, one per
// backend) registered the way pulumi-lvs registers them (provider/resources.ts: a dynamic type
// token, the same inputs and declared outputs, the secret connection, a `__provider` module of
// about the same size, no promise-leak stacks), but served by a provider that does nothing: no
// SSH, no check, create and update return their inputs. What its steps cost is what the engine,
// the SDK and the dynamic provider charge per resource; no provider built on pulumi.dynamic can
// be cheaper.
import * as pulumi from "@pulumi/pulumi";
import { model } from "pulumi-lvs";
import { SCHEDULER } from "../../rules";
import { benchConfig } from "../config";

const PROVIDER =
  "exports.handler = () => ({ create: async (i) => ({ id: String(i.address), outs: i }), update: async (_id, _o, n) => ({ outs: n }), delete: async () => {} });\n";
/** The outputs every pulumi-lvs resource declares besides its kind's (resources.ts's COMMON_OUTPUTS, not exported). */
const COMMON_OUTPUTS = ["credentials", "inputSecrets", "owner", "hostKeyFingerprint", "proxyHostKeyFingerprint", "stateVersion"];
const undefinedKeys = (keys: string[]) => Object.fromEntries(keys.map((k) => [k, undefined]));

class Nothing extends pulumi.CustomResource {
  constructor(kind: string, name: string, outputs: string[], props: Record<string, unknown>) {
    // As resources.ts registers: the SDK's promise-leak stacks of the properties are not taken.
    const stackLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(`pulumi-nodejs:dynamic/lvs-floor:${kind}`, name, {
        ...undefinedKeys([...COMMON_OUTPUTS, ...outputs]),
        ...props,
        owner: `${kind}/${name}`,
        __provider: PROVIDER,
      });
    } finally {
      Error.stackTraceLimit = stackLimit;
    }
  }
}

const { connection, services, persist } = benchConfig();
for (const s of services) {
  const key = { address: s.address, port: s.port, protocol: "tcp" };
  // The inputs each class registers as undefined unless given (resources.ts), then what the lvs program gives.
  const serviceDefaults = undefinedKeys(["fwmark", "family", "persistence", "schedulerFlags", "onePacket", "realServers"]);
  const service = new Nothing("VirtualService", s.name, Object.keys(model.VirtualServiceOutputs.shape), {
    ...serviceDefaults,
    connection,
    ...key,
    scheduler: SCHEDULER,
    persist,
  });
  for (const b of s.backends)
    new Nothing("RealServer", b.name, Object.keys(model.RealServerOutputs.shape), {
      ...undefinedKeys(["port", "forwarding"]),
      connection,
      service: { ...key, address: service.id.apply(() => s.address) },
      address: b.address,
      weight: b.weight,
      persist,
    });
}
