// Reboot persistence: the files that bring back at boot what pulumi-lvs configured, laid out
// from the lines of every persisted hold (each kind gives its line: holds/kinds.ts, gathered by
// holds/boot-files.ts), rewritten only when their content changes, and removed, with the unit,
// when nothing is persisted any more. The restore script is a real file (restore.sh, checked
// by shellcheck) installed as is.
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { RESTORE_UNIT, nft, q } from "./commands";

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

/** The parts of the boot files: each kind of object puts its line in one (holds/kinds.ts says which). */
export type BootPart = "addrs" | "sysctls" | "vsSysctls" | "timeouts" | "services" | "dests" | "daemons" | "links" | "routes";
export type BootLines = Record<BootPart, string[]>;
export const noBootLines = (): BootLines => ({
  addrs: [],
  sysctls: [],
  vsSysctls: [],
  timeouts: [],
  services: [],
  dests: [],
  daemons: [],
  links: [],
  routes: [],
});

/**
 * The content every boot file should have, from the lines of every persisted object and the
 * nftables table of the persisted marks; null means the file should not exist.
 */
export function renderBootFiles(l: BootLines, marks: string | null): Record<string, string | null> {
  const any = Object.values(l).some((ls) => ls.length > 0) || marks !== null;
  const file = (ls: string[], header = "") => (ls.length ? header + lines(ls) : null);
  return {
    [BOOT_FILES.addrs]: file(l.addrs),
    // The timeouts, then each service before its destinations.
    [BOOT_FILES.rules]: file([...l.timeouts, ...l.services, ...l.dests]),
    [BOOT_FILES.links]: file(l.links),
    [BOOT_FILES.routes]: file(l.routes),
    [BOOT_FILES.nft]: marks === null ? null : nft.bootText(marks),
    [BOOT_FILES.vsSysctls]: file(l.vsSysctls),
    [BOOT_FILES.syncDaemons]: file(l.daemons),
    [BOOT_FILES.sysctls]: file(l.sysctls, "# managed by pulumi-lvs\n"),
    [BOOT_FILES.restore]: any ? RESTORE_SCRIPT : null,
    [BOOT_FILES.unit]: any ? UNIT_TEXT : null,
  };
}

/**
 * Writes a file atomically. One command per line: `sh -e` stops at a failing line, but not at
 * a failure inside an `a && b` list, which would let the transaction commit without the file.
 */
const writeFile = (file: string, content: string) => [
  `[ -d ${q(path.dirname(file))} ] || mkdir -p ${q(path.dirname(file))}`,
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
    // systemd forgets the removed unit on a reload, detached: nothing later depends on it, and
    // waiting for one costs ~3 s on a small VM (on every destroy that empties a host).
    cmds.push(
      `if [ -z "$(find ${q(ETC)} -type f 2>/dev/null | head -n 1)" ] && ! ls ${LEGACY_SYSCTLS} >/dev/null 2>&1; then ` +
        `systemctl --no-reload disable --quiet ${UNIT_NAME} 2>/dev/null || true; rm -f ${q(BOOT_FILES.unit)} ${q(BOOT_FILES.restore)}; rm -rf ${q(ETC)}; setsid -f systemctl daemon-reload >/dev/null 2>&1 </dev/null; fi`,
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
