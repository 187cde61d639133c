// A bench program's stack, driven through the real pulumi CLI with its own PULUMI_HOME and
// file backend; every run's output is kept in a log file.
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PROGRAMS, hr } from "./lab";

export interface Measure {
  ms: number;
  ssh: number;
  summary?: string;
}

/** A stack of one bench program, driven through the real CLI with its own PULUMI_HOME and file backend. */
export class Stack {
  readonly home: string;
  readonly configFile: string;
  readonly env: NodeJS.ProcessEnv;
  private runs = 0;

  constructor(
    readonly program: string,
    readonly logDir: string,
    readonly stepTimeoutMs: number,
    /** `--parallel` for up, refresh and destroy; undefined: the engine's default. */
    readonly parallel?: number,
    /** Names this stack's logs (a column that runs another's program with other config). */
    readonly label = program,
  ) {
    this.home = fs.mkdtempSync(path.join(os.tmpdir(), `pulumi-lvs-bench-${label}-`));
    this.configFile = path.join(this.home, "Pulumi.bench.yaml");
    fs.mkdirSync(path.join(this.home, "state"));
    this.env = {
      ...process.env,
      PULUMI_HOME: path.join(this.home, "pulumi-home"),
      PULUMI_BACKEND_URL: `file://${path.join(this.home, "state")}`,
      PULUMI_CONFIG_PASSPHRASE: "bench-passphrase",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
      NO_COLOR: "1",
      PULUMI_NODEJS_TRANSPILE_ONLY: "true", // the programs are type-checked by `make typecheck`
    };
  }

  setConfig(values: Record<string, unknown>): void {
    const lines = Object.entries(values).map(([k, v]) => `  bench:${k}: ${JSON.stringify(v)}`);
    fs.writeFileSync(this.configFile, `config:\n${lines.join("\n")}\n`);
  }

  /** Runs pulumi; the output goes to a log file. Returns the wall time and the engine's resource summary. */
  async run(...args: string[]): Promise<{ ms: number; summary: string }> {
    const engine = ["up", "preview", "refresh", "destroy"].includes(args[0]);
    const withConfig = engine ? ["--config-file", this.configFile] : [];
    const parallel = engine && this.parallel !== undefined ? ["--parallel", String(this.parallel)] : [];
    const full = [...args, ...withConfig, ...parallel, "--stack", "bench", "--non-interactive"];
    const log = path.join(this.logDir, `${this.label}.${String(++this.runs).padStart(2, "0")}.${args[0]}.log`);
    const fd = fs.openSync(log, "w");
    const t0 = hr();
    const code = await new Promise<number>((resolve, reject) => {
      const p = spawn("pulumi", full, {
        cwd: path.join(PROGRAMS, this.program),
        env: this.env,
        stdio: ["ignore", fd, fd],
        timeout: this.stepTimeoutMs,
      });
      p.on("error", reject);
      p.on("exit", (c, sig) => resolve(c ?? (sig ? 128 : 1)));
    });
    const ms = hr() - t0;
    fs.closeSync(fd);
    const out = fs.readFileSync(log, "utf8");
    if (code !== 0) {
      throw new Error(
        `pulumi ${args.join(" ")} (${this.program}) failed (exit ${code}); full output in ${log}:\n${out.split("\n").slice(-40).join("\n")}`,
      );
    }
    return { ms, summary: summarize(out) };
  }

  init = () => this.run("stack", "init");
  up = () => this.run("up", "--yes", "--skip-preview");
  refresh = () => this.run("refresh", "--yes", "--skip-preview");
  destroy = () => this.run("destroy", "--yes", "--skip-preview");

  async remove(): Promise<void> {
    await this.run("stack", "rm", "--yes", "--force").catch(() => undefined);
    fs.rmSync(this.home, { recursive: true, force: true });
  }
}

/** The engine's "Resources:" block in one line, e.g. "+101 created, 1 unchanged". */
export function summarize(out: string): string {
  const lines = out.split("\n");
  const i = lines.findIndex((l) => /^Resources:\s*$/.test(l));
  if (i < 0) return "";
  const parts: string[] = [];
  for (const l of lines.slice(i + 1)) {
    const t = l.trim();
    if (!t) break;
    parts.push(t.replace(/^([+~-]|\+-)\s+/, "$1"));
  }
  return parts.join(", ");
}
