// The host half of a locked session (remote/session.ts is the client's half): the markers the
// two halves exchange, and the shell that runs on the host under the lock (wrap, in commands.ts).
import { onExit, q } from "./commands";

/** Seconds the host waits for the write script after the read (the client decides in milliseconds). */
export const SCRIPT_WAIT = 60;
/** Separates a session's read from what follows it. */
export const TRANSACTION_MARKER = "--- pulumi-lvs transaction ---";
/** The last line of every complete write script (a comment, so running it does nothing): the session ends after it. */
export const SCRIPT_END = "# pulumi-lvs: end of script";
/** The last line of a complete write script after which the session goes on: the host reads again. */
export const SCRIPT_MORE = `${SCRIPT_END}, more to come`;
/**
 * As SCRIPT_MORE, for a write that changed IPVS rules only (and the ledger and boot files): the
 * host then reads again only those (commands.snapshotRead's `rulesOnly`), and the client keeps the rest
 * of the last read, which a write under the same lock did not change.
 */
export const SCRIPT_MORE_RULES = `${SCRIPT_END}, more to come, rules only`;
/** Printed after a round that has more to come ran whole; the read again follows. */
export const ROUND_END = "--- pulumi-lvs round done ---";

/**
 * The shell of a locked session on the host: runs the read, prints the marker, then takes a
 * write script from stdin and runs it only if it arrived whole (its last line is SCRIPT_END,
 * SCRIPT_MORE or SCRIPT_MORE_RULES). After SCRIPT_END, or an empty stdin
 * (nothing to write, or the client closed the session), the session ends; after SCRIPT_MORE it
 * prints ROUND_END, runs `read` again under the same lock (`reread` after SCRIPT_MORE_RULES), and
 * waits for the next script.
 *
 * A write dies with its client: the client keeps its end of stdin open while it waits, so
 * end-of-file there means it is gone (its run was stopped, its link died); a watchdog then ends
 * the session's whole process group (this shell, the script and whatever it started), and what
 * it left half done is undone by the next transaction. So that the group is the session's alone,
 * the loop runs in the shell itself when that leads its own group (sshd starts every session so,
 * and a login shell runs our `sh -c` in its place), else once in a new group (`setsid -w`: under
 * sudo, whose command does not lead one). Each round's script then runs in a subshell of it: a
 * fork, where a new group per round (`setsid sh`) cost two program starts, ~50 ms on a small VM.
 * The watchdog reads with the shell's own `read` (a byte at a time) and is gone
 * before the round's end is printed, so it never takes a byte of the next script. (A client gone
 * while this waited for the lock never gets this far: the read's first line to a closed channel
 * ends the shell.) A client whose link froze closes nothing: each script must arrive within
 * SCRIPT_WAIT (a timer for the whole session checks every few seconds), else nothing more runs
 * and the lock is released (sshd may take hours to notice).
 * Background jobs read /dev/null unless told, hence stdin kept as fd 3 for the watchdog; it
 * closes the lock's fd 9, so it never holds the lock.
 * `readOnly`: the read and the marker, then the session ends (nothing is taken from stdin).
 */
export function sessionCommand(
  read: string,
  { reread = read, scriptWait = SCRIPT_WAIT, readOnly = false }: { reread?: string; scriptWait?: number; readOnly?: boolean } = {},
): string {
  // A session that only reads (refresh, scan) ends after its read: it has no write loop to run
  // a script in, and pays none of the loop's processes (mktemp, the timer, sed, rm).
  if (readOnly) return [read, `echo ${q(TRANSACTION_MARKER)}`].join("\n");
  /** sed's words for a last line `marker`: written to "$f.<suffix>" too, then sed stops. */
  const lastLine = (marker: string, suffix: string) => `-e ${q(`/^${marker}$/w `)}"$f.${suffix}" -e ${q(`/^${marker}$/q`)}`;
  const temps = `"$f" "$f.end" "$f.more" "$f.rules" "$f.wait"`;
  /** The timer's period: a few seconds, shorter for a short wait (tests). */
  const tick = Math.max(1, Math.min(5, Math.floor(scriptWait / 4)));
  const loop = [
    "exec 3<&0",
    "snapshot() {",
    ":",
    read,
    "}",
    "reread() {",
    ":",
    reread,
    "}",
    `snapshot; echo ${q(TRANSACTION_MARKER)}`,
    `umask 077; f=$(mktemp); rc=0; i=0`,
    // The bound on each script's wait: one timer for the session (a fork, and a `sleep` every
    // few seconds), not a `timeout` process per round. While a script is awaited, "$f.wait" names
    // the round and its sed; the timer ends that sed once the same one waited scriptWait seconds.
    // It ends with the loop's shell ($$, in a subshell too), however that ends.
    `{ n=0; l=; while sleep ${tick} && kill -0 $$; do s=; read -r s < "$f.wait"; if [ -n "$s" ] && [ "$s" = "$l" ]; then n=$((n + ${tick})); else n=0; fi; l=$s; [ "$n" -lt ${scriptWait} ] || kill -TERM "\${s#* }"; done; } </dev/null >/dev/null 2>&1 3<&- 9>&- & t=$!`,
    // However the loop ends (its end, a signal: its client gone while it wrote, the watchdog
    // below), the timer and the temporary files go with it, and the lock's record (this replaces
    // wrap's EXIT trap, and under setsid this is a new shell without its traps).
    onExit({ run: `kill -KILL "$t" 2>/dev/null`, remove: temps }),
    "while :; do",
    // sed stops at the last line, and writes it to a file of its own too, so which one it was
    // is known without another process (tail). In the background, so the timer can end it; a
    // background job reads /dev/null unless told, hence <&3.
    `  i=$((i + 1)); sed -n -e p ${lastLine(SCRIPT_END, "end")} ${lastLine(SCRIPT_MORE, "more")} ${lastLine(SCRIPT_MORE_RULES, "rules")} <&3 > "$f" & s=$!`,
    `  echo "$i $s" > "$f.wait"; wait "$s"; r=$?; : > "$f.wait"`,
    `  if [ "$r" -ne 0 ]; then`,
    `    echo ${q(`pulumi-lvs: no script came within ${scriptWait}s of the read (its client is gone or its link froze); nothing was run`)} >&2; rc=75; break`,
    "  fi",
    `  [ -s "$f" ] || break`,
    `  if [ -s "$f.more" ]; then more=snapshot; elif [ -s "$f.rules" ]; then more=reread; elif [ -s "$f.end" ]; then more=; else echo 'pulumi-lvs: the script arrived incomplete; nothing was run' >&2; rc=75; break; fi`,
    `  ( set -e; . "$f" ) & p=$!`,
    // $$ is the loop's shell, the leader of the session's group (see above), in the subshell too.
    `  { while read -r _; do :; done; kill -TERM -$$; } <&3 >/dev/null 2>&1 9>&- & w=$!`,
    // KILL: a subshell holds the shell's TERM trap for a moment after its fork; a TERM then would
    // be lost, and the watchdog would wait on (and end the session at the client's end).
    `  wait "$p"; rc=$?; kill -KILL "$w" 2>/dev/null; wait "$w" 2>/dev/null`,
    `  [ "$rc" -eq 0 ] && [ -n "$more" ] || break`,
    `  echo ${q(ROUND_END)}; $more; echo ${q(TRANSACTION_MARKER)}`,
    "done",
    "exit $rc",
  ].join("\n");
  // The fifth field of /proc/$$/stat is the shell's process group (its second, "(sh)", has no blank).
  return [
    `loop=${q(loop)}`,
    `read -r _ _ _ _ g _ < /proc/$$/stat`,
    `if [ "$g" = "$$" ]; then eval "$loop"; else setsid -w sh -c "$loop"; exit $?; fi`,
  ].join("\n");
}
