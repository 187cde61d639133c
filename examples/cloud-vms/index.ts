// Composing with VM provisioning: a VM resource's address and generated key feed the
// connection. `Vm` stands for your cloud's instance resource (aws.ec2.Instance,
// gcp.compute.Instance, ...): anything whose outputs are an address and a key. Here it
// is a ComponentResource so the example type-checks without a cloud SDK; swap in yours.
import * as pulumi from "@pulumi/pulumi";
import * as lvs from "pulumi-lvs";

class Vm extends pulumi.ComponentResource {
  readonly publicIp: pulumi.Output<string>;
  readonly privateIp: pulumi.Output<string>;
  readonly sshPrivateKey: pulumi.Output<string>;
  constructor(name: string, args: { image: string; subnet: string }, opts?: pulumi.ComponentResourceOptions) {
    super("example:cloud:Vm", name, args, opts);
    // In a real program these come from the cloud provider's resource.
    this.publicIp = pulumi.output("203.0.113.10");
    this.privateIp = pulumi.output("10.0.0.10");
    this.sshPrivateKey = pulumi.secret("-----BEGIN OPENSSH PRIVATE KEY-----\n...\n-----END OPENSSH PRIVATE KEY-----\n");
    this.registerOutputs({});
  }
}

const subnet = "10.0.0.0/24";
const director = new Vm("director", { image: "debian-12", subnet });
const backends = ["a", "b"].map((n) => new Vm(`web-${n}`, { image: "debian-12", subnet }));
const ssh = (vm: Vm) => ({
  host: vm.publicIp,
  user: "admin",
  privateKey: vm.sshPrivateKey,
  dialErrorLimit: 30,
  perDialTimeout: 10, // a fresh VM takes a while before sshd answers
});

const cluster = new lvs.LvsDrCluster("web", {
  director: ssh(director),
  vip: "10.0.0.100",
  port: 443,
  scheduler: "wlc",
  backends: backends.map((vm, i) => ({ name: `web-${i}`, address: vm.privateIp, connection: ssh(vm) })),
});

export const vip = cluster.service.address;
