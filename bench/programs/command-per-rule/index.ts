// @pulumi/command, the script-per-step way: one remote.Command per ipvsadm rule (each
// opens its own SSH connection), backends after their service.
import { remote } from "@pulumi/command";
import { lines } from "../../rules";
import { benchConfig } from "../config";

const { connection, services } = benchConfig();
for (const s of services) {
  const service = new remote.Command(s.name, {
    connection,
    create: `ipvsadm ${lines.addService(s)}`,
    delete: `ipvsadm ${lines.deleteService(s)}`,
  });
  for (const b of s.backends) {
    new remote.Command(
      b.name,
      {
        connection,
        create: `ipvsadm ${lines.addBackend(s, b)}`,
        update: `ipvsadm ${lines.editBackend(s, b)}`,
        delete: `ipvsadm ${lines.deleteBackend(s, b)}`,
      },
      { dependsOn: [service] },
    );
  }
}
