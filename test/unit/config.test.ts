// The root program's stack config: the cluster model with key files, and keys it does not
// read refused by name with the nearest known key suggested.
import { readClusterConfig } from "../../provider/config";

const values: Record<string, string> = {
  vip: "198.51.100.100",
  port: "80",
  director: JSON.stringify({ host: "127.0.0.1" }),
  backends: JSON.stringify([{ address: "198.51.100.11", connection: { host: "127.0.0.1" } }]),
};

test("a misspelt key is refused, naming it and the key it probably meant", () => {
  expect(() => readClusterConfig("pulumi-lvs", (k) => values[k], [...Object.keys(values), "schedular"])).toThrow(
    /pulumi-lvs:schedular is not a setting of this program \(did you mean pulumi-lvs:scheduler\?\)/,
  );
});

test("the cluster's defaults come from the one model: persist, drainTimeout, scheduler", () => {
  expect(readClusterConfig("pulumi-lvs", (k) => values[k], Object.keys(values))).toMatchObject({
    persist: true,
    drainTimeout: 30,
    scheduler: "rr",
  });
});

test("the standby director of `ha` may name a key file too, and the VRRP defaults apply", () => {
  const ha = JSON.stringify({ standby: { host: "127.0.0.2", privateKeyPath: __filename }, virtualRouterId: 51 });
  const c = readClusterConfig("pulumi-lvs", (k) => ({ ...values, ha })[k], [...Object.keys(values), "ha"]);
  expect(c.ha).toMatchObject({ virtualRouterId: 51, preempt: false, primaryPriority: 150, standbyPriority: 100, syncDaemon: true });
  expect(c.ha?.standby.privateKey).toContain("the standby director of `ha` may name a key file");
});
