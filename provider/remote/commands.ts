// The only place that writes remote command text. Every value that enters a
// command goes through q() (shell-quote), even values zod has already validated,
// so a bug in validation can never become a shell injection.
import { quote } from "shell-quote";
import { Destination, ServiceKey, VirtualService } from "../model";

/** Shell-quotes one value. */
export const q = (v: string | number): string => quote([String(v)]);

/** Separates the sections of a multi-command read so one round trip answers several questions. */
export const SECTION = "--- pulumi-lvs section ---";
const section = `echo ${q(SECTION)}`;

/** Lock file that serializes our writes on one host (Pulumi runs resources in parallel). */
const LOCK = "/run/pulumi-lvs.lock";

/**
 * Wraps a script for execution: always under `sh` (the login shell may be anything), under
 * `sudo -n` for non-root users (never prompts: a password prompt becomes a clear error), and
 * under flock when it writes, so concurrent operations against one host take turns.
 */
export function wrap(script: string, opts: { sudo: boolean; lock: boolean }): string {
  const body = opts.lock ? `flock ${q(LOCK)} sh -c ${q(script)}` : `sh -c ${q(script)}`;
  return opts.sudo ? `sudo -n ${body}` : body;
}

// --- ipvsadm ---

const PROTO_FLAG = { tcp: "-t", udp: "-u" } as const;
const FORWARD_FLAG = { direct: "-g", tunnel: "-i", masquerade: "-m" } as const;

// ipvsadm arguments as word lists: quoted for commands, joined plainly for the rule files
// that the boot-time restore replays (their words are validated addresses, numbers and enums).
const serviceWords = (k: ServiceKey) => [PROTO_FLAG[k.protocol], `${k.address}:${k.port}`];
const schedulingWords = (s: VirtualService) => [
  "-s", s.scheduler,
  ...(s.persistence ? ["-p", String(s.persistence.timeout), ...(s.persistence.netmask ? ["-M", s.persistence.netmask] : [])] : []),
];
const destinationWords = (k: ServiceKey, d: Destination) => [
  ...serviceWords(k), "-r", `${d.address}:${d.port}`, FORWARD_FLAG[d.forwarding], "-w", String(d.weight),
  "-x", String(d.upperThreshold ?? 0), "-y", String(d.lowerThreshold ?? 0),
];
const ipvsadm = (...words: string[]) => ["ipvsadm", ...words.map(q)].join(" ");

/** Rule lines (ipvsadm arguments) for the boot-time restore. */
export const rules = {
  service: (s: VirtualService) => ["-A", ...serviceWords(s), ...schedulingWords(s)].join(" "),
  destination: (k: ServiceKey, d: Destination) => ["-a", ...destinationWords(k, d)].join(" "),
};

export const ipvs = {
  /** Fails with an actionable message when ipvsadm or the ip_vs module is missing. */
  preflight: () =>
    `command -v ipvsadm >/dev/null 2>&1 || { echo 'ipvsadm is not installed: install the ipvsadm package' >&2; exit 3; }; ` +
    `[ -e /proc/net/ip_vs ] || modprobe ip_vs 2>/dev/null || true; ` +
    `[ -e /proc/net/ip_vs ] || { echo 'the ip_vs kernel module is not available: modprobe ip_vs failed (kernel without IPVS?)' >&2; exit 3; }`,
  addService: (s: VirtualService) => ipvsadm("-A", ...serviceWords(s), ...schedulingWords(s)),
  /** -E sets every option again: persistence given nowhere means persistence off, which is what we want. */
  editService: (s: VirtualService) => ipvsadm("-E", ...serviceWords(s), ...schedulingWords(s)),
  deleteService: (k: ServiceKey) => ipvsadm("-D", ...serviceWords(k)),
  addDestination: (k: ServiceKey, d: Destination) => ipvsadm("-a", ...destinationWords(k, d)),
  editDestination: (k: ServiceKey, d: Destination) => ipvsadm("-e", ...destinationWords(k, d)),
  deleteDestination: (k: ServiceKey, d: Pick<Destination, "address" | "port">) =>
    ipvsadm("-d", ...serviceWords(k), "-r", `${d.address}:${d.port}`),
  /** The whole table in two forms: rules (-S) and, since -S omits them, thresholds with counters. */
  readTable: () => `ipvsadm -S -n; ${section}; ipvsadm -L -n --thresholds`,
};

// --- addresses, routes and sysctls ---

export const net = {
  /** IPv4 addresses of every interface, one per line (`ip -o`). */
  listAddresses: () => "ip -o -4 addr show",
  addAddress: (addr: string, dev: string) => `ip addr add ${q(`${addr}/32`)} dev ${q(dev)}`,
  deleteAddress: (addr: string, dev: string) => `ip addr del ${q(`${addr}/32`)} dev ${q(dev)}`,
  /** The interface whose route reaches `addr` (used as the director's default VIP interface). */
  routeTo: (addr: string) => `ip -o -4 route get ${q(addr)}`,
  readSysctls: (keys: string[]) => keys.map((k) => `printf '%s=%s\\n' ${q(k)} "$(sysctl -n ${q(k)})"`).join("; "),
  writeSysctl: (key: string, value: number) => `sysctl -q -w ${q(`${key}=${value}`)}`,
};

/** Runs several commands as one script that stops at the first failure. */
export const script = (...cmds: string[]): string => ["set -e", ...cmds].join("\n");
/** Runs several reads whose outputs come back split by SECTION markers. */
export const sections = (...cmds: string[]): string => cmds.join(`; ${section}; `);

// --- reboot persistence: files and a systemd unit that pulumi-lvs owns ---
//
// Everything lives in per-object files so two resources never edit the same file, and
// every write happens under the host lock. At boot, pulumi-lvs-restore.service re-adds
// our addresses, loads ip_vs, applies our IPVS sysctls and replays our IPVS rules, one
// line at a time so a service owned by someone else (keepalived, a hand-made one) is
// never cleared or overwritten. Early sysctls (arp_*, ip_forward) go to /etc/sysctl.d,
// which systemd-sysctl applies before the network comes up.

const ETC = "/etc/pulumi-lvs";
const RESTORE = "/usr/local/libexec/pulumi-lvs-restore";
const UNIT = "/etc/systemd/system/pulumi-lvs-restore.service";
const UNIT_NAME = "pulumi-lvs-restore.service";
/** A file name made of an object's key: letters, digits, dots and underscores only. */
export const fileName = (key: string): string => key.replace(/[^A-Za-z0-9.]+/g, "_");

const RESTORE_SCRIPT = `#!/bin/sh
# Installed by pulumi-lvs: restores at boot what pulumi-lvs configured. Do not edit.
d=${ETC}
for f in "$d"/addrs/*.conf; do
  [ -e "$f" ] || continue
  while read -r addr dev; do ip addr replace "$addr/32" dev "$dev" || echo "pulumi-lvs: cannot add $addr to $dev" >&2; done < "$f"
done
if ls "$d"/ipvs/*.rules "$d"/vs-sysctl/*.conf >/dev/null 2>&1; then modprobe ip_vs || exit 1; fi
for f in "$d"/vs-sysctl/*.conf; do [ -e "$f" ] && sysctl -q -p "$f"; done
for kind in service dest; do
  for f in "$d"/ipvs/*."$kind".rules; do
    [ -e "$f" ] || continue
    while read -r line; do ipvsadm $line || echo "pulumi-lvs: ipvsadm $line failed" >&2; done < "$f"
  done
done
exit 0
`;

const UNIT_TEXT = `[Unit]
Description=Restore the IPVS rules, addresses and sysctls managed by pulumi-lvs
DefaultDependencies=no
After=network-pre.target systemd-sysctl.service systemd-modules-load.service local-fs.target
Wants=network-pre.target
Before=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=${RESTORE}

[Install]
WantedBy=multi-user.target network-online.target
`;

/** Writes a file atomically from a list of lines. */
const writeFile = (path: string, lines: string[]) =>
  `mkdir -p ${q(path.replace(/\/[^/]+$/, ""))} && printf '%s\\n' ${lines.map(q).join(" ")} > ${q(path + ".tmp")} && mv ${q(path + ".tmp")} ${q(path)}`;

const installUnit = () => [
  `mkdir -p ${q(ETC)} /usr/local/libexec`,
  `printf '%s' ${q(RESTORE_SCRIPT)} > ${q(RESTORE)} && chmod 755 ${q(RESTORE)}`,
  `if ! printf '%s' ${q(UNIT_TEXT)} | cmp -s - ${q(UNIT)}; then printf '%s' ${q(UNIT_TEXT)} > ${q(UNIT)}; systemctl daemon-reload; fi`,
  `systemctl is-enabled --quiet ${q(UNIT_NAME)} || systemctl enable --quiet ${q(UNIT_NAME)}`,
];

/** Removes the unit and script once no file of ours is left. */
const uninstallUnitIfUnused = () => [
  `if [ -z "$(find ${q(ETC)} -type f 2>/dev/null | head -n 1)" ]; then ` +
    `systemctl disable --quiet ${q(UNIT_NAME)} 2>/dev/null || true; rm -f ${q(UNIT)} ${q(RESTORE)}; rm -rf ${q(ETC)}; systemctl daemon-reload; fi`,
];

const rulePath = (name: string, kind: "service" | "dest") => `${ETC}/ipvs/${fileName(name)}.${kind}.rules`;
const sysctlConf = (owner: string) => `/etc/sysctl.d/90-pulumi-lvs-${fileName(owner)}.conf`;
const sysctlLines = (values: Record<string, number>) => Object.entries(values).map(([k, v]) => `${k} = ${v}`);

export const boot = {
  saveService: (s: VirtualService) => [
    ...installUnit(), writeFile(rulePath(serviceKeyName(s), "service"), [rules.service(s)]),
  ],
  /** Deleting a service deletes its destinations in the kernel, so their files go too (even stale ones). */
  removeService: (k: ServiceKey) => [
    `rm -f ${q(rulePath(serviceKeyName(k), "service"))} ${q(`${ETC}/ipvs/${fileName(serviceKeyName(k))}_`)}*.dest.rules`,
    ...uninstallUnitIfUnused(),
  ],
  saveDestination: (k: ServiceKey, d: Destination) => [
    ...installUnit(), writeFile(rulePath(destinationName(k, d), "dest"), [rules.destination(k, d)]),
  ],
  removeDestination: (k: ServiceKey, d: Pick<Destination, "address" | "port">) =>
    [`rm -f ${q(rulePath(destinationName(k, d), "dest"))}`, ...uninstallUnitIfUnused()],
  /** Host settings of one owner (a DirectorHost or DrRealServerHost): addresses, early and IPVS sysctls. */
  saveHost: (owner: string, h: { addrs: { address: string; dev: string }[]; sysctls: Record<string, number>; vsSysctls: Record<string, number> }) => [
    ...installUnit(),
    writeFile(`${ETC}/addrs/${fileName(owner)}.conf`, h.addrs.map((a) => `${a.address} ${a.dev}`)),
    Object.keys(h.sysctls).length ? writeFile(sysctlConf(owner), ["# managed by pulumi-lvs", ...sysctlLines(h.sysctls)]) : `rm -f ${q(sysctlConf(owner))}`,
    Object.keys(h.vsSysctls).length ? writeFile(`${ETC}/vs-sysctl/${fileName(owner)}.conf`, sysctlLines(h.vsSysctls)) : `rm -f ${q(`${ETC}/vs-sysctl/${fileName(owner)}.conf`)}`,
  ],
  removeHost: (owner: string) => [
    `rm -f ${q(`${ETC}/addrs/${fileName(owner)}.conf`)} ${q(sysctlConf(owner))} ${q(`${ETC}/vs-sysctl/${fileName(owner)}.conf`)}`,
    ...uninstallUnitIfUnused(),
  ],
};

const serviceKeyName = (k: ServiceKey) => `${k.protocol}_${k.address}_${k.port}`;
const destinationName = (k: ServiceKey, d: Pick<Destination, "address" | "port">) => `${serviceKeyName(k)}__${d.address}_${d.port}`;
