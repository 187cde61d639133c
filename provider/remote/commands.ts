// The text of every remote command (ipvsadm, ip, sysctl, keepalived, nft, the lock and the
// transaction around them). The scripts that holds/script.ts, boot.ts and keepalived.ts
// assemble are these commands plus their own markers and here-documents of data. Every value
// that enters a command goes through q() (shell-quote), even values zod has already
// validated, so a bug in validation can never become a shell injection.
import { quote } from "shell-quote";
import { Destination, IpvsTimeouts, ServiceKey, VirtualService, hostPort } from "../model";

/** Shell-quotes one value. */
export const q = (v: string | number): string => quote([String(v)]);

/** Separates the sections of a multi-command read so one round trip answers several questions. */
export const SECTION = "--- pulumi-lvs section ---";
const section = `echo ${q(SECTION)}`;

/** Lock file that serializes our writes on one host (Pulumi runs resources in parallel). */
const LOCK = "/run/pulumi-lvs.lock";
/** Who holds the lock, written by each holder once it has it: a transaction that gives up names them. */
const LOCK_HOLDER = `${LOCK}.holder`;
const STATE_DIR_PATH = "/var/lib/pulumi-lvs";
/** Seconds a transaction waits for the host lock unless the connection says otherwise (connection.lockTimeout). */
export const LOCK_TIMEOUT = 120;
/** The exit status of a transaction that gave up waiting for the lock. */
export const LOCK_TIMED_OUT = 75;

/**
 * The traps of a shell that holds the host lock: the lock's record goes with the lock however the
 * shell ends, a signal too (its client gone while it wrote: SIGPIPE; a hang-up; an operator's
 * kill exits through the EXIT trap). A shell that sets its own EXIT trap (remote/session-host.ts's
 * loop) adds what it must `run` then and the files to `remove` with the record (one `rm`).
 */
export const onExit = ({ run, remove }: { run?: string; remove?: string } = {}): string =>
  [
    `trap '${run ? `${run}; ` : ""}rm -f ${remove ? `${remove} ` : ""}${LOCK_HOLDER}' EXIT`,
    "trap 'exit 129' HUP; trap 'exit 141' PIPE; trap 'exit 143' TERM",
  ].join("\n");

/**
 * Wraps a transaction for execution: always under `sh` (the login shell may be anything), under
 * `sudo -n` for non-root users (never prompts: a password prompt becomes a clear error), with the
 * host lock taken first, so concurrent transactions take turns, and waited for at most
 * `lockTimeout` seconds. `holder` says who we are (stack, process, machine): written beside the
 * lock while we hold it, it is what a transaction that gives up reports.
 */
export function wrap(script: string, opts: { sudo: boolean; lockTimeout: number; holder: string }): string {
  const locked = [
    `exec 9>>${LOCK}`,
    `if ! flock -w ${q(opts.lockTimeout)} 9; then`,
    `  h=$(cat ${LOCK_HOLDER} 2>/dev/null)`,
    `  echo "the pulumi-lvs lock (${LOCK}) is still held after ${opts.lockTimeout}s, by \${h:-a process that does not say who it is (pulumi-lvs 0.2 or older)}; ` +
      `retry once it is done, or, if that run was stopped, end its process on this host (its remote pid), which holds the lock until it exits" >&2`,
    `  exit ${LOCK_TIMED_OUT}`,
    "fi",
    `printf '%s since %s, remote pid %s\\n' ${q(opts.holder)} "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" "$$" > ${LOCK_HOLDER}`,
    onExit(),
    script,
  ].join("\n");
  const body = `sh -c ${q(locked)}`;
  return opts.sudo ? `sudo -n ${body}` : body;
}

/** The boot restore unit (remote/boot.ts installs it); a failed one is drift that refresh reports. */
export const RESTORE_UNIT = "pulumi-lvs-restore.service";

// --- ipvsadm ---

const PROTO_FLAG = { tcp: "-t", udp: "-u", sctp: "--sctp-service" } as const;
const FORWARD_FLAG = { direct: "-g", tunnel: "-i", masquerade: "-m" } as const;

// ipvsadm arguments as word lists: quoted for commands, joined plainly for the rule files
// that the boot-time restore replays (their words are validated addresses, numbers and enums).
type Key = Pick<ServiceKey, "address" | "port" | "protocol" | "fwmark" | "family">;
const serviceWords = (k: Key) =>
  k.fwmark !== undefined
    ? ["-f", String(k.fwmark), ...(k.family === "ipv6" ? ["-6"] : [])]
    : [PROTO_FLAG[k.protocol], hostPort(k.address!, k.port!)];
const schedulingWords = (s: VirtualService) => [
  "-s",
  s.scheduler,
  ...(s.persistence ? ["-p", String(s.persistence.timeout), ...(s.persistence.netmask ? ["-M", s.persistence.netmask] : [])] : []),
  ...(s.schedulerFlags?.length ? ["-b", s.schedulerFlags.join(",")] : []),
  ...(s.onePacket ? ["-o"] : []),
];
const tunnelWords = (d: Destination) =>
  d.forwarding === "tunnel" && d.tunnelType
    ? ["--tun-type", d.tunnelType, ...(d.tunnelPort ? ["--tun-port", String(d.tunnelPort)] : [])]
    : [];
const destinationWords = (k: Key, d: Destination) => [
  ...serviceWords(k),
  "-r",
  hostPort(d.address, d.port),
  FORWARD_FLAG[d.forwarding],
  ...tunnelWords(d),
  "-w",
  String(d.weight),
  "-x",
  String(d.upperThreshold ?? 0),
  "-y",
  String(d.lowerThreshold ?? 0),
];
const ipvsadm = (...words: string[]) => ["ipvsadm", ...words.map(q)].join(" ");

/** Words `ipvsadm -R` can take as they are (its lines are split on blanks, never by a shell). */
const PLAIN_WORD = /^[A-Za-z0-9.:/_,[\]-]+$/;
/**
 * One IPVS rule change (-A -E -D -a -e -d) as ipvsadm's words. The plan emits it as it is; the
 * write renders it once, either as a command of its own (every word quoted) or as a line of a
 * shared `ipvsadm -R` (see `restore`), so nothing is ever parsed back out of shell text.
 */
export class RuleChange {
  constructor(readonly words: string[]) {}
  /** As a command of its own. */
  toString(): string {
    return ipvsadm(...this.words);
  }
  /** As a line of `ipvsadm -R`; undefined when a word is not plain (it then runs as a command). */
  get line(): string | undefined {
    return this.words.every((w) => PLAIN_WORD.test(w)) ? this.words.join(" ") : undefined;
  }
}
/**
 * Loads a scheduler's module before a service uses it, so a kernel without it fails with a clear
 * message (twos came in Linux 6.2) instead of ipvsadm's "No such file or directory". A class of
 * its own because it changes nothing a read sees but the IPVS table may use it: a round of rule
 * changes with it still needs only the rules read again (holds/script.write's `rulesOnly`).
 */
export class SchedulerModule {
  constructor(readonly scheduler: string) {}
  toString(): string {
    const name = this.scheduler;
    return (
      `modprobe -q ${q(`ip_vs_${name}`)} 2>/dev/null || [ -d ${q(`/sys/module/ip_vs_${name}`)} ] || ` +
      `{ echo ${q(`scheduler ${name} is not available on this kernel (no module ip_vs_${name})`)} >&2; exit 3; }`
    );
  }
}
/** What a plan emits: shell text, or an IPVS rule change or scheduler module rendered at write time. */
export type Command = string | RuleChange | SchedulerModule;

/** Rule lines (ipvsadm arguments) for the boot-time restore: plain words (validated addresses, numbers, enums). */
export const rules = {
  service: (s: VirtualService) => ["-A", ...serviceWords(s), ...schedulingWords(s)].join(" "),
  destination: (k: Key, d: Destination) => ["-a", ...destinationWords(k, d)].join(" "),
  timeouts: (t: IpvsTimeouts) => ["--set", String(t.tcp ?? 0), String(t.tcpFin ?? 0), String(t.udp ?? 0)].join(" "),
};

export const ipvs = {
  /** Fails with an actionable message when ipvsadm or the ip_vs module is missing. */
  preflight: () =>
    `command -v ipvsadm >/dev/null 2>&1 || { echo 'ipvsadm is not installed: install the ipvsadm package' >&2; exit 3; }; ` +
    `[ -e /proc/net/ip_vs ] || modprobe ip_vs 2>/dev/null || true; ` +
    `[ -e /proc/net/ip_vs ] || { echo 'the ip_vs kernel module is not available: modprobe ip_vs failed (kernel without IPVS?)' >&2; exit 3; }`,
  addService: (s: VirtualService) => new RuleChange(["-A", ...serviceWords(s), ...schedulingWords(s)]),
  /** -E sets every option again: persistence given nowhere means persistence off, which is what we want. */
  editService: (s: VirtualService) => new RuleChange(["-E", ...serviceWords(s), ...schedulingWords(s)]),
  deleteService: (k: Key) => new RuleChange(["-D", ...serviceWords(k)]),
  /** Shell text, not a rule change: a service that is not there is no error (ipvsadm -R would report it). */
  deleteServiceIfThere: (k: Key) => `${ipvsadm("-D", ...serviceWords(k))} 2>/dev/null || true`,
  addDestination: (k: Key, d: Destination) => new RuleChange(["-a", ...destinationWords(k, d)]),
  editDestination: (k: Key, d: Destination) => new RuleChange(["-e", ...destinationWords(k, d)]),
  deleteDestination: (k: Key, d: Pick<Destination, "address" | "port">) =>
    new RuleChange(["-d", ...serviceWords(k), "-r", hostPort(d.address, d.port)]),
  scheduler: (name: string) => new SchedulerModule(name),
  /** ipvsadm --set: 0 leaves a timeout as it is. */
  setTimeouts: (t: IpvsTimeouts) => ipvsadm("--set", String(t.tcp ?? 0), String(t.tcpFin ?? 0), String(t.udp ?? 0)),
  readTimeouts: () => "ipvsadm -L --timeout",
  /**
   * Many of the changes above, as their RuleChange lines, in one `ipvsadm -R` (one process instead
   * of one per rule: on a small host, most of a large batch's time). `ipvsadm -R` carries on past
   * a failing line and still exits 0, so anything it prints fails the script.
   */
  restore: (lines: string[]) => [
    `e=$(ipvsadm -R 2>&1 <<'PULUMI_LVS_RULES'`,
    ...lines,
    "PULUMI_LVS_RULES",
    ")",
    `[ -z "$e" ] || { printf 'ipvsadm -R: %s\n' "$e" >&2; exit 1; }`,
  ],
  /** Waits (up to 5 s) until a service is gone: keepalived applies a reload asynchronously. */
  waitGone: (k: Key) =>
    `i=0; while ipvsadm -L -n ${serviceWords(k).map(q).join(" ")} >/dev/null 2>&1 && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done`,
  /** IPVS connection sync daemons (ipvsadm(8) --start-daemon): every connection is sent to the other director. */
  startDaemon: (mode: "master" | "backup", dev: string, syncId: number) =>
    ipvsadm("--start-daemon", mode, "--mcast-interface", dev, "--syncid", String(syncId)),
  stopDaemon: (mode: "master" | "backup") => ipvsadm("--stop-daemon", mode),
  /** The whole table in two forms: rules (-S) and, since -S omits them, thresholds with counters. */
  readTable: () => `ipvsadm -S -n; ${section}; ipvsadm -L -n --thresholds`,
};

// --- addresses, routes and sysctls ---

/** A sysctl's file: dots separate its levels, and a slash stands for a dot in a name (eth1/100 is eth1.100). */
const sysctlPath = (key: string) => `/proc/sys/${key.replace(/[./]/g, (c) => (c === "." ? "/" : "."))}`;

export const net = {
  /** IPv4 and IPv6 addresses of every interface, one per line (`ip -o`); link states. */
  listAddresses: () => "ip -o addr show",
  /** Every device, by the shell's own glob (no process spawned). */
  listDevices: () => "echo /sys/class/net/*",
  /**
   * `replace`, not `add`: adding an address that is already there is not an error. An IPv6
   * address skips duplicate address detection (nodad): a VIP is meant to be shared, and a
   * tentative address drops traffic for the second DAD takes.
   */
  addAddress: (a: { address: string; prefix: number; dev: string }) =>
    `ip addr replace ${q(`${a.address}/${a.prefix}`)} dev ${q(a.dev)}${a.address.includes(":") ? " nodad" : ""}`,
  deleteAddress: (a: { address: string; prefix: number; dev: string }) => `ip addr del ${q(`${a.address}/${a.prefix}`)} dev ${q(a.dev)}`,
  /**
   * A gratuitous ARP for an IPv4 address just added on `dev` (unsolicited: no reply expected), so
   * neighbours whose cache still names another machine for it (the VIP moved) update at once.
   * `tool` is what the host has: iputils' arping, or busybox's applet (the same flags).
   */
  announce: (tool: "arping" | "busybox", dev: string, address: string) =>
    `${tool === "busybox" ? "busybox arping" : "arping"} -U -c 1 -w 1 -I ${q(dev)} ${q(address)} >/dev/null 2>&1 || true`,
  /**
   * The same for an IPv6 address: one unsolicited neighbour advertisement to all nodes, with the
   * override flag and the interface's link-layer address (ipv6toolkit's na6). The kernel sends
   * none for an address added without duplicate address detection, as our VIPs are.
   */
  announce6: (dev: string, address: string) =>
    `na6 -i ${q(dev)} -s ${q(address)} -d ff02::1 -t ${q(address)} -o -e >/dev/null 2>&1 || true`,
  /** The interface whose route reaches `addr` (used as the director's default VIP interface). */
  routeTo: (addr: string) => `ip -o route get ${q(addr)}`,
  /** Link states: "N: DEV: <FLAGS> ..." one per line. */
  listLinks: () => "ip -o link show",
  linkUp: (dev: string) => `ip link set dev ${q(dev)} up`,
  linkDown: (dev: string) => `ip link set dev ${q(dev)} down`,
  /** Unloads a module we loaded (which removes its device); left loaded when something else uses it. */
  unloadModule: (name: string) => `modprobe -r ${q(name)} 2>/dev/null || true`,
  /** Loads a kernel module; fails with a clear message when the kernel lacks it. */
  module: (name: string) => `modprobe -q ${q(name)} || { echo ${q(`kernel module ${name} is not available on this kernel`)} >&2; exit 3; }`,
  /** Routes of the main table, both families (`ip -o route show` per family). */
  /** `replace`: one route per destination network; another gateway for it is replaced (and restored on delete). */
  replaceRoute: (network: string, via: string) => `ip ${via.includes(":") ? "-6 " : ""}route replace ${q(network)} via ${q(via)}`,
  deleteRoute: (network: string, via: string) => `ip ${via.includes(":") ? "-6 " : ""}route del ${q(network)} via ${q(via)}`,
  /** A host route to `address` on `dev` in the main table, if there is one. */
  deleteHostRoute: (address: string, dev: string) =>
    `ip ${address.includes(":") ? "-6 " : ""}route del ${q(address)} dev ${q(dev)} table main 2>/dev/null || true`,
  /** GUE receive port (ip fou): GUE packets to this UDP port are decapsulated. */
  listFou: () => "ip fou show 2>/dev/null || true",
  addFou: (port: number) => `ip fou add port ${q(port)} gue`,
  deleteFou: (port: number) => `ip fou del port ${q(port)}`,
  /**
   * key=value per line, read by the shell itself (`sysctl -n` is one process per key, ~70 ms
   * each on a small VM); a key the kernel lacks reads as empty. A key with `*`
   * (net.ipv4.conf.*.accept_redirects: one per interface, for an interface known only once
   * routes are read) is a glob over /proc/sys; ours are constants.
   */
  readSysctls: (keys: string[]) =>
    keys
      .map((k) =>
        k.includes("*") && /^[a-z0-9_.*]+$/.test(k)
          ? `for p in /proc/sys/${k.replace(/\./g, "/")}; do [ ! -e "$p" ] || printf '%s=%s\\n' "$(echo "\${p#/proc/sys/}" | tr / .)" "$(cat "$p")"; done`
          : `v=; [ ! -r ${q(sysctlPath(k))} ] || read -r v < ${q(sysctlPath(k))}; printf '%s=%s\\n' ${q(k)} "$v"`,
      )
      .join("; "),
  /** Written by the shell itself, as `sysctl -w` writes it (no process spawned); a missing key fails the script. */
  writeSysctl: (key: string, value: number) => `echo ${q(value)} > ${q(sysctlPath(key))}`,
};

// --- keepalived (remote/keepalived.ts decides what to run; every command text is here) ---

/** keepalived's own configuration file, which belongs to the user: pulumi-lvs adds one include line. */
export const KEEPALIVED_CONF = "/etc/keepalived/keepalived.conf";
/** The directory of pulumi-lvs's keepalived files, one per VRRP instance or health-checked service. */
export const KEEPALIVED_DIR = "/etc/keepalived/pulumi-lvs.d";
export const KEEPALIVED_INCLUDE = `include ${KEEPALIVED_DIR}/*.conf`;
const NEXT = `${KEEPALIVED_DIR}.next`;

export const keepalived = {
  /** installed / enabled / active / conf absent|newline|no-newline / include, one word each per line. */
  readState: () =>
    [
      `if command -v keepalived >/dev/null 2>&1; then echo installed; fi`,
      `echo "enabled $(systemctl is-enabled keepalived 2>/dev/null)"`,
      `echo "active $(systemctl is-active keepalived 2>/dev/null)"`,
      `if [ -e ${q(KEEPALIVED_CONF)} ]; then if [ -z "$(tail -c 1 ${q(KEEPALIVED_CONF)})" ]; then echo conf newline; else echo conf no-newline; fi; ` +
        `if grep -qxF ${q(KEEPALIVED_INCLUDE)} ${q(KEEPALIVED_CONF)}; then echo include; fi; else echo conf absent; fi`,
    ].join("\n"),
  /** On failure, apt's last lines say why (no mirror, a held package, a full disk). */
  install: () =>
    `out=$(DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends keepalived 2>&1) || ` +
    `{ printf 'installing keepalived failed (apt-get install keepalived): install it by hand, or check the host reaches its package mirror; apt said:\n%s\n' "$(printf '%s\n' "$out" | tail -n 5)" >&2; exit 1; }`,
  /**
   * Writes the complete new set of files next to ours and runs keepalived's own config test on
   * the user's keepalived.conf with our include pointed at them. A failure prints keepalived's
   * messages with the real paths and stops the script before anything changed.
   */
  stageAndTest: (files: Record<string, string>) => [
    `rm -rf ${q(NEXT)} ${q(NEXT + ".conf")}`,
    `mkdir -m 700 ${q(NEXT)}`,
    ...Object.entries(files).map(([name, text]) => `printf '%s' ${q(text)} > ${q(`${NEXT}/${name}`)}`),
    // Root only: a VRRP password is in them.
    `chmod 600 ${q(NEXT)}/*.conf`,
    `{ if [ -e ${q(KEEPALIVED_CONF)} ]; then grep -vxF ${q(KEEPALIVED_INCLUDE)} ${q(KEEPALIVED_CONF)} || true; fi; echo ${q(`include ${NEXT}/*.conf`)}; } > ${q(NEXT + ".conf")}`,
    // It exits 5 on errors and warnings, 6 on script security, but 0 with a message for some
    // broken includes: any output fails. Its messages repeat; each is shown once, with real paths.
    `out=$(keepalived --config-test -f ${q(NEXT + ".conf")} 2>&1) && [ -z "$out" ] || { ` +
      `printf 'keepalived --config-test failed; nothing was changed:\n%s\n' "$out" | awk '!seen[$0]++' | sed -e ${q(`s#${NEXT}.conf#${KEEPALIVED_CONF}#g`)} -e ${q(`s#${NEXT}/#${KEEPALIVED_DIR}/#g`)} >&2; ` +
      `rm -rf ${q(NEXT)} ${q(NEXT + ".conf")}; exit 1; }`,
  ],
  /** Puts the tested files in place of ours. */
  installStaged: () => [`rm -rf ${q(KEEPALIVED_DIR)}`, `mv ${q(NEXT)} ${q(KEEPALIVED_DIR)}`, `rm -f ${q(NEXT + ".conf")}`],
  /** Appends our include line (after a newline when the file does not end with one); creates the file when absent. */
  addInclude: (conf: "absent" | "newline" | "no-newline") => [
    ...(conf === "no-newline" ? [`echo >> ${q(KEEPALIVED_CONF)}`] : []),
    `echo ${q(KEEPALIVED_INCLUDE)} >> ${q(KEEPALIVED_CONF)}`,
  ],
  /** Takes our include line out, leaving the file as it was before (byte for byte), or removes a file we created. */
  removeInclude: (original: "absent" | "newline" | "no-newline") => [
    `if [ -e ${q(KEEPALIVED_CONF)} ]; then grep -vxF ${q(KEEPALIVED_INCLUDE)} ${q(KEEPALIVED_CONF)} > ${q(KEEPALIVED_CONF + ".pulumi-lvs")} || true; ` +
      `cat ${q(KEEPALIVED_CONF + ".pulumi-lvs")} > ${q(KEEPALIVED_CONF)}; rm -f ${q(KEEPALIVED_CONF + ".pulumi-lvs")}; fi`,
    ...(original === "no-newline" ? [`if [ -s ${q(KEEPALIVED_CONF)} ]; then truncate -s -1 ${q(KEEPALIVED_CONF)}; fi`] : []),
    ...(original === "absent" ? [`if [ ! -s ${q(KEEPALIVED_CONF)} ]; then rm -f ${q(KEEPALIVED_CONF)}; fi`] : []),
    `rm -rf ${q(KEEPALIVED_DIR)}`,
  ],
  enable: () => `systemctl enable --quiet keepalived`,
  disable: () => `systemctl disable --quiet keepalived`,
  start: () => `systemctl start keepalived`,
  stop: () => `systemctl stop keepalived`,
  /** Only a restart recreates a service of keepalived's that was deleted behind its back (a reload applies config changes only). */
  restart: () => `systemctl restart keepalived`,
  /** Waits (up to `seconds`) until `vip` is on `dev`: a VRRP election won; or gives up silently (lost it). */
  settle: (dev: string, vip: string, seconds: number) =>
    `i=0; while [ $i -lt ${q(seconds * 10)} ] && ! ip -o addr show dev ${q(dev)} | grep -qF ${q(` ${vip}/`)}; do sleep 0.1; i=$((i + 1)); done`,
  /** SIGHUP: keepalived reads its files again; VRRP state and established connections are kept. */
  reload: () => `systemctl reload keepalived`,
  /** Only when nothing else uses it: no keepalived.conf left (ours is removed when we created it). */
  purge: () =>
    `if [ ! -e ${q(KEEPALIVED_CONF)} ]; then DEBIAN_FRONTEND=noninteractive apt-get purge -y -q keepalived >/dev/null 2>&1 || true; fi`,
};

// --- nftables (remote/nftables.ts renders our table) ---

/** Where the hash of our table as `nft list` printed it right after we loaded it is kept: a different hash now is drift. */
export const NFT_HASH = "/var/lib/pulumi-lvs/nft.sha256";
const NFT_TABLE = "inet pulumi_lvs";
const nftListHash = `nft list table ${NFT_TABLE} 2>/dev/null | sha256sum | cut -c1-64`;
export const nft = {
  /** Loads the table atomically: the first two lines make the delete succeed whether it existed or not. */
  load: (text: string) => [
    `command -v nft >/dev/null 2>&1 || { echo 'nft is not installed: install the nftables package (firewall-mark services need it)' >&2; exit 3; }`,
    `nft -f - <<'PULUMI_LVS_NFT'`,
    `table ${NFT_TABLE}`,
    `delete table ${NFT_TABLE}`,
    text.trimEnd(),
    "PULUMI_LVS_NFT",
    `mkdir -p ${q(STATE_DIR_PATH)}`,
    `${nftListHash} > ${q(NFT_HASH)}`,
  ],
  remove: () => [`if command -v nft >/dev/null 2>&1; then nft delete table ${NFT_TABLE} 2>/dev/null || true; fi`, `rm -f ${q(NFT_HASH)}`],
  /** Two lines: the hash now (of nothing when absent) and the one recorded; only where we wrote one. */
  read: () => `if [ -e ${q(NFT_HASH)} ]; then ${nftListHash}; cat ${q(NFT_HASH)}; fi`,
  /** The restore file: the same prelude, so a reboot's load replaces whatever is there. */
  bootText: (text: string) => `table ${NFT_TABLE}
delete table ${NFT_TABLE}
${text}`,
};

// --- a transaction's read: everything a batch of operations decides on, in one round trip ---

/** Where the host keeps its ledger (see ledger.ts). */
export const STATE_DIR = STATE_DIR_PATH;
export const LEDGER = `${STATE_DIR}/ledger.json`;
export const LEDGER_NEXT = `${STATE_DIR}/ledger.next.json`;

/** The marker line that starts a named section of a read (parsers.namedSections splits on it). */
export const named = (name: string) => `echo ${q(`${SECTION} ${name}`)}`;

/**
 * The read of a transaction, in named sections: the ledger and any unfinished intent, addresses,
 * the sysctls asked for, the IPVS table (when ip_vs is loaded; `preflight` checks ipvsadm and
 * loads ip_vs first), the routes asked for, and the boot files' hashes.
 */
export function snapshotRead(opts: {
  preflight: boolean;
  keepalived: boolean;
  sysctls: string[];
  routes: string[];
  files: string[];
  /** Kernel modules loaded before reading (a tunnel module creates the device whose sysctls are read). */
  modules?: string[];
  /** Read links, gateways, GUE ports and IPVS timeouts (host preparation for TUN/NAT, timeouts). */
  prep?: boolean;
  /** Read whether the boot restore unit failed. */
  restoreUnit?: boolean;
  /**
   * Only the IPVS table (its rules and thresholds): the read after a write of IPVS rules (with the
   * ledger and the boot files, which the client knows as it wrote them: holds/script.write's
   * `ours`), in the same session; the client keeps every other section of the session's last read.
   */
  rulesOnly?: boolean;
}): string {
  const rules = ipvs.readTable().replace(`echo ${q(SECTION)}`, named("thresholds"));
  if (opts.rulesOnly) return [named("ipvs"), `if [ -e /proc/net/ip_vs ]; then ${rules}; fi`].join("\n");
  // Those reads cost ~0.4 s on a small VM: only when an operation needs them or the ledger holds such objects.
  const prep = `[ -n "$prep" ]`;
  // The ledger and the intent are read once, into the shell (a spawn costs ~30 ms on a small VM).
  const kinds = ["link", "route", "fou", "timeouts"].map((k) => `*'"kind":"${k}"'*`).join("|");
  const ledger = [
    `ledger=$(cat ${q(LEDGER)} 2>/dev/null); pending=; [ ! -e ${q(LEDGER_NEXT)} ] || pending=$(cat ${q(LEDGER_NEXT)} 2>/dev/null)`,
    opts.prep ? "prep=1" : `prep=; case "$ledger$pending" in ${kinds}) prep=1 ;; esac`,
  ];
  const ledgerSections = [named("ledger"), `printf '%s\\n' "$ledger"`, named("pending"), `printf '%s\\n' "$pending"`];
  const table = [
    named("ipvs"),
    `if [ -e /proc/net/ip_vs ]; then ${rules}; ${named("timeouts")}; if ${prep}; then ${ipvs.readTimeouts()}; fi; fi`,
  ];
  const files = [named("files"), `sha256sum ${opts.files.map(q).join(" ")} ${q(KEEPALIVED_DIR)}/*.conf 2>/dev/null || true`];
  return [
    ...ledger,
    ...(opts.preflight ? [ipvs.preflight()] : []),
    // Links before the modules load: a tunnel device that appears only now was not there before.
    named("links"),
    `if ${prep}; then ${net.listLinks()}; fi`,
    ...(opts.modules ?? []).map(net.module),
    ...ledgerSections,
    named("addrs"),
    net.listAddresses(),
    named("devices"),
    net.listDevices(),
    named("arping"),
    "command -v arping || command -v busybox || true",
    named("na6"),
    "command -v na6 || true",
    named("gateways4"),
    `if ${prep}; then ip -o -4 route show table main; fi`,
    named("gateways6"),
    `if ${prep}; then ip -o -6 route show table main; fi`,
    named("fou"),
    `if ${prep} && [ -d /sys/module/fou ]; then ${net.listFou()}; fi`,
    named("nft"),
    nft.read(),
    named("sysctls"),
    ...(opts.sysctls.length ? [net.readSysctls(opts.sysctls)] : []),
    ...table,
    // keepalived and the sync daemons (only directors with VRRP run them): read only where used.
    `if ${opts.keepalived ? "true" : "false"} || [ -d ${q(KEEPALIVED_DIR)} ]; then`,
    named("daemons"),
    `if [ -e /proc/net/ip_vs ]; then ipvsadm -L --daemon; fi`,
    named("keepalived"),
    keepalived.readState(),
    "fi",
    named("routes"),
    ...opts.routes.map((r) => `printf '%s ' ${q(r)}; ${net.routeTo(r)} 2>/dev/null | head -n 1 || echo`),
    ...(opts.restoreUnit ? [named("restore"), `systemctl is-failed ${RESTORE_UNIT} 2>/dev/null || true`] : []),
    ...files,
  ].join("\n");
}
