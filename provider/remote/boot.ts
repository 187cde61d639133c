// Reboot persistence: the files that bring back at boot what pulumi-lvs configured. They are
// derived from the host's ledger (every persisted hold), rewritten only when their content
// changes, and removed, with the unit, when nothing is persisted any more. The restore
// script is a real file (restore.sh, checked by shellcheck) installed as is.
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { Ledger, byKeepalived, desiredOf, desiredValue, keys, liveTarget, persisted } from "../ledger";
import { RESTORE_UNIT, nft, q, rules } from "./commands";
import { marksOf, nftTable } from "./nftables";

const ETC = "/etc/pulumi-lvs";
export const BOOT_FILES = {
  addrs: `${ETC}/addrs.conf`,
  rules: `${ETC}/ipvs.rules`,
  vsSysctls: `${ETC}/vs-sysctl.conf`,
  syncDaemons: `${ETC}/sync-daemons.conf`,
  links: `${ETC}/links.conf`,
  routes: `${ETC}/routes.conf`,
  nft: `${ETC}/nftables.nft`,
  sysctls: "/etc/sysctl.d/90-pulumi-lvs.conf",
  restore: "/usr/local/libexec/pulumi-lvs-restore",
  unit: "/etc/systemd/system/pulumi-lvs-restore.service",
};
const UNIT_NAME = RESTORE_UNIT;
/** Files of release 0.1 (one per resource); the restore script still replays them until their resource is touched. */
const LEGACY_SYSCTLS = "/etc/sysctl.d/90-pulumi-lvs-*.conf";

/** restore.sh sits next to this module (the build copies it into bin/). */
export const RESTORE_SCRIPT = fs.readFileSync(path.join(__dirname, "restore.sh"), "utf8");

const UNIT_TEXT = `[Unit]
Description=Restore the IPVS rules, addresses and sysctls managed by pulumi-lvs
DefaultDependencies=no
After=network-pre.target systemd-sysctl.service systemd-modules-load.service local-fs.target
Wants=network-pre.target
Before=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=${BOOT_FILES.restore}

[Install]
WantedBy=multi-user.target network-online.target
`;

export const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");
const lines = (ls: string[]) => (ls.length ? ls.join("\n") + "\n" : "");

/** The content every boot file should have for `ledger`; null means the file should not exist. */
export function bootFiles(ledger: Ledger): Record<string, string | null> {
  const addrs: string[] = [];
  const sysctls: string[] = [];
  const vsSysctls: string[] = [];
  const services: string[] = [];
  const dests: string[] = [];
  const daemons: string[] = [];
  const links: string[] = [];
  const routes: string[] = [];
  const timeouts: string[] = [];
  for (const e of Object.values(ledger.entries).sort((a, b) => JSON.stringify(a.where).localeCompare(JSON.stringify(b.where)))) {
    // Only objects that should be there: desiredValue and liveTarget below have a value.
    if (!persisted(e) || !desiredOf(e).present) continue;
    if (e.kind === "addr") {
      addrs.push(`${e.where.address}/${e.where.prefix} ${e.where.dev}`);
    } else if (e.kind === "sysctl") {
      (e.where.startsWith("net.ipv4.vs.") ? vsSysctls : sysctls).push(`${e.where} = ${desiredValue(e)}`);
    } else if (e.kind === "link" && desiredValue(e) === true) {
      links.push(`${e.where.module} ${e.where.dev}`);
    } else if (e.kind === "fou") {
      links.push(`fou ${e.where}`);
    } else if (e.kind === "route") {
      routes.push(`${e.where.network} ${desiredValue(e)}`);
    } else if (e.kind === "timeouts") {
      timeouts.push(rules.timeouts(desiredValue(e)!));
    } else if (e.kind === "syncd") {
      const v = desiredValue(e)!;
      daemons.push(`${e.where} ${v.dev} ${v.syncId}`);
    } else if (e.kind === "service" || e.kind === "dest") {
      // keepalived restores the services it runs (and their destinations) itself.
      const svc = e.kind === "service" ? e : ledger.entries[keys.service(e.where.service)];
      if (byKeepalived(svc)) continue;
      if (e.kind === "service") {
        services.push(rules.service(desiredValue(e)!));
        continue;
      }
      const d = liveTarget(e)!;
      dests.push(rules.destination(d.service, d.dest));
    }
  }
  const marks = nftTable(marksOf(ledger, true));
  const any =
    addrs.length +
      sysctls.length +
      vsSysctls.length +
      services.length +
      dests.length +
      daemons.length +
      links.length +
      routes.length +
      timeouts.length >
      0 || marks !== null;
  const file = (ls: string[], header = "") => (ls.length ? header + lines(ls) : null);
  return {
    [BOOT_FILES.addrs]: file(addrs),
    [BOOT_FILES.rules]: file([...timeouts, ...services, ...dests]),
    [BOOT_FILES.links]: file(links),
    [BOOT_FILES.routes]: file(routes),
    [BOOT_FILES.nft]: marks === null ? null : nft.bootText(marks),
    [BOOT_FILES.vsSysctls]: file(vsSysctls),
    [BOOT_FILES.syncDaemons]: file(daemons),
    [BOOT_FILES.sysctls]: file(sysctls, "# managed by pulumi-lvs\n"),
    [BOOT_FILES.restore]: any ? RESTORE_SCRIPT : null,
    [BOOT_FILES.unit]: any ? UNIT_TEXT : null,
  };
}

/**
 * Writes a file atomically. One command per line: `sh -e` stops at a failing line, but not at
 * a failure inside an `a && b` list, which would let the transaction commit without the file.
 */
const writeFile = (file: string, content: string) => [
  `mkdir -p ${q(path.dirname(file))}`,
  `printf '%s' ${q(content)} > ${q(file + ".tmp")}`,
  `mv ${q(file + ".tmp")} ${q(file)}`,
];

/**
 * Commands that bring the boot files from what the host has (`have`: path -> sha256, from the
 * transaction's read) to `want`. The unit is enabled when written, disabled and removed (with
 * /etc/pulumi-lvs) once no file of ours is left, release 0.1's included.
 */
export function bootCommands(want: Record<string, string | null>, have: Record<string, string>): string[] {
  const cmds: string[] = [];
  for (const [file, content] of Object.entries(want)) {
    if (content === null && have[file]) {
      if (file !== BOOT_FILES.unit && file !== BOOT_FILES.restore) cmds.push(`rm -f ${q(file)}`);
    } else if (content !== null && have[file] !== sha256(content)) {
      cmds.push(...writeFile(file, content));
      if (file === BOOT_FILES.restore) cmds.push(`chmod 755 ${q(file)}`);
      // The unit runs at boot only, when systemd reads it anyway: no reload now (one costs
      // seconds on a small VM, and `enable` would do one by default).
      if (file === BOOT_FILES.unit) cmds.push(`systemctl --no-reload enable --quiet ${UNIT_NAME}`);
    }
  }
  if (want[BOOT_FILES.unit] === null && have[BOOT_FILES.unit]) {
    cmds.push(
      `if [ -z "$(find ${q(ETC)} -type f 2>/dev/null | head -n 1)" ] && ! ls ${LEGACY_SYSCTLS} >/dev/null 2>&1; then ` +
        `systemctl --no-reload disable --quiet ${UNIT_NAME} 2>/dev/null || true; rm -f ${q(BOOT_FILES.unit)} ${q(BOOT_FILES.restore)}; rm -rf ${q(ETC)}; systemctl daemon-reload; fi`,
    );
  }
  return cmds;
}

/** Release 0.1's files of one resource (it named them by owner or by object), removed when that resource is migrated. */
const legacyName = (name: string) => name.replace(/[^A-Za-z0-9.]+/g, "_"); // 0.1's fileName()
export const legacyFiles = {
  host: (owner: "director" | "dr-real-server") => [
    `${ETC}/addrs/${legacyName(owner)}.conf`,
    `/etc/sysctl.d/90-pulumi-lvs-${legacyName(owner)}.conf`,
    `${ETC}/vs-sysctl/${legacyName(owner)}.conf`,
  ],
  object: (name: string, kind: "service" | "dest") => [`${ETC}/ipvs/${legacyName(name)}.${kind}.rules`],
};
