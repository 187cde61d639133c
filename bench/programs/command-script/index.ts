// @pulumi/command, the one-script way: a single remote.Command whose create, update and
// delete each feed every rule to one `ipvsadm -R` (one SSH connection per step).
import { remote } from "@pulumi/command";
import { createLines, deleteLines, editAllLines, restoreScript } from "../../rules";
import { benchConfig } from "../config";

const { connection, services } = benchConfig();
new remote.Command("ipvs", {
  connection,
  create: restoreScript(createLines(services)),
  update: restoreScript(editAllLines(services)),
  delete: restoreScript(deleteLines(services)),
});
