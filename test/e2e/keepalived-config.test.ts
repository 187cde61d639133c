// keepalived's own config test on the lab's keepalived, for each kind of file pulumi-lvs
// renders: health-checked services of every kind (fwmark IPv4 and IPv6, scheduler flags,
// one-packet, IPv6, GUE/GRE/ipip tunnels) and VRRP instances (IPv4, IPv6, both). Checked in
// a scratch directory of a VM, exactly as a transaction checks its staged files (any output
// fails), so no keepalived state on the host changes.
import { Plan } from "../../provider/holds/plan";
import { keepalivedFiles, renderVrrp } from "../../provider/remote/keepalived";
import { emptySnapshot } from "../unit/plan-support";
import { everyKind } from "../unit/keepalived-kinds";
import { labStatus, onHost } from "./harness";

labStatus();
const HOST = "rs-c";
const DIR = "/tmp/pulumi-lvs-config-test";

/** keepalived --config-test of `files` (name -> text) included from an otherwise empty keepalived.conf: its output, "" when clean. */
function configTest(files: Record<string, string>): string {
  const writes = Object.entries(files).map(([name, text]) => `printf '%s' '${text.replace(/'/g, "'\\''")}' > ${DIR}/${name}`);
  return onHost(
    HOST,
    [
      `rm -rf ${DIR}; mkdir -p ${DIR}`,
      ...writes,
      `echo 'include ${DIR}/*.conf' > ${DIR}.conf`,
      `keepalived --config-test -f ${DIR}.conf 2>&1; echo "exit $?"`,
      `rm -rf ${DIR} ${DIR}.conf`,
    ].join("\n"),
  ).trim();
}

const vrrp = { dev: "eth1", virtualRouterId: 51, priority: 150, preempt: false, preemptDelay: 0, advertInterval: 1 };

test("every kind of health-checked service passes keepalived's config test", () => {
  const plan = new Plan(emptySnapshot({ keepalived: { installed: true, enabled: true, active: false, conf: "absent", include: false } }));
  everyKind.forEach(({ service, dests }, i) => {
    plan.op(`s${i}`, (p) => p.claim(`s${i}`, { services: [service], keepalived: true, persist: true }));
    plan.op(`d${i}`, (p) => p.claim(`d${i}`, { dests, persist: true }));
  });
  const files = keepalivedFiles(plan.ledger);
  expect(Object.keys(files)).toHaveLength(everyKind.length);
  for (const [name, text] of Object.entries(files)) expect({ name, out: configTest({ [name]: text }) }).toEqual({ name, out: "exit 0" });
});

test("VRRP instances with IPv4, IPv6 and both kinds of VIP pass it", () => {
  for (const vips of [["198.51.100.100"], ["2001:db8:100::100"], ["198.51.100.100", "2001:db8:100::100"]])
    expect({ vips, out: configTest({ "vrrp.conf": renderVrrp({ ...vrrp, vips }) }) }).toEqual({ vips, out: "exit 0" });
});
