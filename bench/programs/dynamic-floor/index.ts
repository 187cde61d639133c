// The floor of Pulumi's dynamic resources: the lvs program's resources (one per service, one per
// backend) registered the way pulumi-lvs registers them (the same type tokens' kind, inputs,
// declared outputs and secret connection, a `__provider` module of the same size), but served by
// a provider that does nothing: no SSH, no check, create and update return their inputs. What
// its steps cost is what the engine, the SDK and the dynamic provider charge per resource; no
// provider built on pulumi.dynamic can be cheaper.
import * as pulumi from "@pulumi/pulumi";
import { SCHEDULER } from "../../rules";
import { benchConfig } from "../config";

const PROVIDER =
  "exports.handler = () => ({ create: async (i) => ({ id: String(i.address), outs: i }), update: async (_id, _o, n) => ({ outs: n }), delete: async () => {} });\n";
const OUTPUTS = ["credentials", "inputSecrets", "owner", "hostKeyFingerprint", "proxyHostKeyFingerprint", "stateVersion"];

class Nothing extends pulumi.CustomResource {
  constructor(kind: string, name: string, props: Record<string, unknown>, outputs: string[]) {
    const declared = Object.fromEntries([...OUTPUTS, ...outputs].map((k) => [k, undefined]));
    super(`pulumi-nodejs:dynamic/lvs-floor:${kind}`, name, { ...declared, ...props, __provider: PROVIDER });
  }
}

const { connection, services, persist } = benchConfig();
for (const s of services) {
  const key = { address: s.address, port: s.port, protocol: "tcp" };
  const service = new Nothing("VirtualService", s.name, { connection, ...key, scheduler: SCHEDULER, persist }, [
    "fwmark",
    "family",
    "persistence",
    "schedulerFlags",
    "onePacket",
    "realServers",
    "adopted",
  ]);
  for (const b of s.backends) {
    new Nothing(
      "RealServer",
      b.name,
      { connection, service: { ...key, address: service.id.apply(() => s.address) }, address: b.address, weight: b.weight, persist },
      ["port", "forwarding", "drainTimeout", "adopt", "adopted", "activeConnections", "inactiveConnections", "health"],
    );
  }
}
