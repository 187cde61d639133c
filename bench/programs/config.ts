// Stack config shared by the benchmark's programs (all under the `bench:` namespace,
// written by bench/bench.ts): the director's connection and the rule set to declare.
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { BenchSpec, PlannedService, plan } from "../rules";

export interface BenchConfig {
  connection: { host: string; port: number; user: string; privateKey: pulumi.Output<string> };
  spec: BenchSpec;
  services: PlannedService[];
  persist: boolean;
}

export function benchConfig(): BenchConfig {
  const c = new pulumi.Config("bench");
  const spec: BenchSpec = {
    backends: c.requireNumber("backends"),
    services: c.requireNumber("services"),
    weighted: c.getNumber("weighted") ?? 0,
    vip: c.require("vip"),
    basePort: c.requireNumber("basePort"),
  };
  return {
    connection: {
      host: c.require("host"),
      port: c.requireNumber("port"),
      user: c.get("user") ?? "root",
      privateKey: pulumi.secret(fs.readFileSync(c.require("privateKeyPath"), "utf8")),
    },
    spec,
    services: plan(spec),
    persist: c.getBoolean("persist") ?? true,
  };
}
