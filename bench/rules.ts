// The rule set every column of the benchmark declares, computed the same way by the
// bench driver (for the ipvsadm -R baseline) and by the Pulumi programs under
// bench/programs/ (from stack config), so all columns do exactly the same IPVS work.
// Pure: no Pulumi, no I/O.

export interface BenchSpec {
  /** Real servers in all (spread round-robin over the services). */
  backends: number;
  services: number;
  /** How many backends (the first ones) get weight 2 instead of 1: 0 before the update step. */
  weighted: number;
  /** The services' address; they listen on basePort, basePort + 1, ... */
  vip: string;
  basePort: number;
}

/** Every service's scheduler (ipvsadm's and pulumi-lvs's default, given explicitly everywhere). */
export const SCHEDULER = "wlc" as const;

export interface PlannedBackend {
  name: string;
  address: string;
  weight: number;
}
export interface PlannedService {
  name: string;
  address: string;
  port: number;
  backends: PlannedBackend[];
}

/** Backend i gets 198.18.x.y (RFC 2544's benchmarking range; only ever written into IPVS tables). */
export function backendAddress(i: number): string {
  if (!Number.isInteger(i) || i < 0 || i >= 256 * 250) throw new Error(`backend index ${i} out of range`);
  return `198.18.${Math.floor(i / 250)}.${(i % 250) + 1}`;
}

export function plan(s: BenchSpec): PlannedService[] {
  if (s.services < 1 || s.backends < 0) throw new Error(`bad bench spec: ${JSON.stringify(s)}`);
  const services: PlannedService[] = Array.from({ length: s.services }, (_, j) => ({
    name: `svc-${j}`,
    address: s.vip,
    port: s.basePort + j,
    backends: [],
  }));
  for (let i = 0; i < s.backends; i++) {
    services[i % s.services].backends.push({ name: `rs-${i}`, address: backendAddress(i), weight: i < s.weighted ? 2 : 1 });
  }
  return services;
}

// --- the same rules as ipvsadm command lines (the format `ipvsadm -R` reads, one per line) ---

const svcArg = (s: PlannedService) => `-t ${s.address}:${s.port}`;
const rsArg = (s: PlannedService, b: PlannedBackend) => `${svcArg(s)} -r ${b.address}:${s.port}`;

export const lines = {
  addService: (s: PlannedService) => `-A ${svcArg(s)} -s ${SCHEDULER}`,
  addBackend: (s: PlannedService, b: PlannedBackend) => `-a ${rsArg(s, b)} -g -w ${b.weight}`,
  editBackend: (s: PlannedService, b: PlannedBackend) => `-e ${rsArg(s, b)} -g -w ${b.weight}`,
  deleteBackend: (s: PlannedService, b: PlannedBackend) => `-d ${rsArg(s, b)}`,
  deleteService: (s: PlannedService) => `-D ${svcArg(s)}`,
};

/** Everything created: each service, then its backends. */
export const createLines = (p: PlannedService[]): string[] =>
  p.flatMap((s) => [lines.addService(s), ...s.backends.map((b) => lines.addBackend(s, b))]);

/** Every backend's weight set again (what a declarative one-script update runs). */
export const editAllLines = (p: PlannedService[]): string[] => p.flatMap((s) => s.backends.map((b) => lines.editBackend(s, b)));

/** Only the backends whose weight differs between two plans of the same shape. */
export const editChangedLines = (before: PlannedService[], after: PlannedService[]): string[] =>
  after.flatMap((s, j) => s.backends.filter((b, k) => before[j].backends[k].weight !== b.weight).map((b) => lines.editBackend(s, b)));

/** Everything removed: backends first, then their service. */
export const deleteLines = (p: PlannedService[]): string[] =>
  p.flatMap((s) => [...s.backends.map((b) => lines.deleteBackend(s, b)), lines.deleteService(s)]);

/** A shell command feeding lines to `ipvsadm -R` (for a remote command string). */
export const restoreScript = (ls: string[]): string => `ipvsadm -R <<'EOF'\n${ls.join("\n")}\nEOF`;
