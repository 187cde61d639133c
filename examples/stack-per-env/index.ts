// One program, one stack per environment: VIP, scheduler and backends come from
// Pulumi.<stack>.yaml, validated by pulumi-lvs's own config reader (errors name the key).
import * as pulumi from "@pulumi/pulumi";
import { LvsDrCluster } from "pulumi-lvs";
import { readClusterConfig } from "pulumi-lvs/config";

const config = new pulumi.Config();
new LvsDrCluster(
  pulumi.getStack(),
  readClusterConfig(config.name, (k) => config.get(k)),
);
