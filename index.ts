// The root program: declares the LVS-DR cluster described by the stack's config
// (Pulumi.<stack>.yaml), so `pulumi up` works with nothing but a stack file.
// See Pulumi.example.yaml for every key.
import * as pulumi from "@pulumi/pulumi";
// The package itself (its built code: `make build`, which `make demo` runs first), as a program
// of a user's would import it.
import { LvsDrCluster } from "pulumi-lvs";
import { readClusterConfig } from "pulumi-lvs/config";

const config = new pulumi.Config();
// Every key of this project's namespace, so a misspelt one is refused instead of ignored.
const present = Object.keys(pulumi.runtime.allConfig())
  .filter((k) => k.startsWith(`${config.name}:`))
  .map((k) => k.slice(config.name.length + 1));
const c = readClusterConfig(config.name, (key) => config.get(key), present);
const cluster = new LvsDrCluster("lvs", c);

export const vip = c.vip;
export const service = pulumi.interpolate`${cluster.service.protocol}/${cluster.service.address}:${cluster.service.port} (${cluster.service.scheduler})`;
export const backends = cluster.realServers.map((r) => pulumi.interpolate`${r.address}:${r.port} weight ${r.weight}`);
