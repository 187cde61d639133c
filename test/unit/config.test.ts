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
