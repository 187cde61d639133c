// Test-only stand-in for a cloud VM resource: create boots a lab VM (`lab start`) and
// outputs its SSH endpoint, delete stops it. Its outputs are unknown at preview, as a
// real VM's address is, which is what composing pulumi-lvs with provisioning looks like.
import * as pulumi from "@pulumi/pulumi";

const LAB = require("path").resolve(__dirname, "../../lab/lab.sh");

const provider: pulumi.dynamic.ResourceProvider = {
  async create(inputs) {
    const { execFileSync } = require("child_process");
    execFileSync("bash", [inputs.lab, "start", inputs.host], { stdio: ["ignore", "ignore", "inherit"] });
    const status = JSON.parse(execFileSync("bash", [inputs.lab, "status", "--json"], { encoding: "utf8" }));
    const h = status.hosts.find((x: { name: string }) => x.name === inputs.host);
    return { id: inputs.host, outs: { ...inputs, sshHost: h.sshHost, sshPort: h.sshPort } };
  },
  async delete(_id, props) {
    require("child_process").execFileSync("bash", [props.lab, "stop", props.host], { stdio: ["ignore", "ignore", "inherit"] });
  },
};

export class LabVm extends pulumi.dynamic.Resource {
  declare readonly sshHost: pulumi.Output<string>;
  declare readonly sshPort: pulumi.Output<number>;
  constructor(name: string, args: { host: string }) {
    super(provider, name, { host: args.host, lab: LAB, sshHost: undefined, sshPort: undefined }, {}, "lab", "Vm");
  }
}
