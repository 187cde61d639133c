import * as fs from "fs";
import { LvsDrCluster } from "pulumi-lvs";

const key = fs.readFileSync(`${process.env.HOME}/.ssh/id_ed25519`, "utf8");
const ssh = (host: string) => ({ host, user: "root", privateKey: key });
new LvsDrCluster("web", {
  director: ssh("192.0.2.10"),
  vip: "192.0.2.100",
  port: 80,
  scheduler: "rr",
  backends: [
    { address: "192.0.2.11", connection: ssh("192.0.2.11") },
    { address: "192.0.2.12", connection: ssh("192.0.2.12") },
  ],
});
