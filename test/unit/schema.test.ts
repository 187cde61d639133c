// The provider plugin's package schema is made from the zod model, never by hand: the committed
// schema.json must be what the model gives today (`make schema` rewrites it).
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { packageSchema } from "../../provider/plugin/schema";
import { kindOf, lvs } from "../../provider/plugin/provider";

const committed = JSON.parse(fs.readFileSync(path.join(__dirname, "../../schema.json"), "utf8")) as ReturnType<typeof packageSchema>;
const { modelDocs } = require("../../tools/model-docs") as { modelDocs(): Record<string, string> };
const schema = packageSchema(modelDocs());
const SECRET = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270" };
const urn = (kind: string) => `urn:pulumi:dev::proj::lvs:index:${kind}::web`;

describe("the plugin's schema", () => {
  test("schema.json is what the model gives (run `make schema` after changing the model)", () => {
    expect(committed).toEqual(schema);
  });

  test("the SDKs in sdk/ were generated from this schema.json and version (run `make sdk` after `make schema`)", () => {
    const root = path.join(__dirname, "../..");
    const digest = crypto
      .createHash("sha256")
      .update(fs.readFileSync(path.join(root, "schema.json")))
      .digest("hex");
    const version = (JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { version: string }).version;
    expect(fs.readFileSync(path.join(root, "sdk/GENERATED-FROM"), "utf8")).toBe(`schema.json sha256 ${digest}\nversion ${version}\n`);
    // Every resource of the schema has its class in each SDK.
    for (const kind of Object.keys(schema.resources).map((t) => t.split(":")[2])) {
      const lower = kind.charAt(0).toLowerCase() + kind.slice(1);
      const snake = kind.replace(/[A-Z]/g, (c, i: number) => (i ? "_" : "") + c.toLowerCase());
      expect(fs.existsSync(path.join(root, `sdk/go/lvs/${lower}.go`))).toBe(true);
      expect(fs.existsSync(path.join(root, `sdk/python/pulumi_lvs/${snake}.py`))).toBe(true);
      expect(fs.existsSync(path.join(root, `sdk/dotnet/${kind}.cs`))).toBe(true);
    }
  });

  test("every resource kind, its required inputs, and secrets marked secret", () => {
    expect(Object.keys(schema.resources).sort()).toEqual(
      ["DirectorHost", "DrRealServerHost", "LvsDrCluster", "NatRealServerHost", "RealServer", "TunRealServerHost", "VirtualService"].map(
        (k) => `lvs:index:${k}`,
      ),
    );
    // A service is an address and port, or a firewall mark: neither is required on its own.
    const svc = schema.resources["lvs:index:VirtualService"];
    expect(svc.requiredInputs).toEqual(["connection"]);
    expect(schema.resources["lvs:index:RealServer"].requiredInputs).toEqual(["address", "connection", "service"]);
    expect(Object.keys(svc.inputProperties as object)).not.toContain("owner");
    const conn = schema.types["lvs:index:Connection"].properties;
    expect(conn.privateKey.secret).toBe(true);
    expect(conn.password.secret).toBe(true);
    expect(conn.host.secret).toBeUndefined();
    expect(schema.types["lvs:index:Vrrp"].properties.authPass.secret).toBe(true);
    expect((schema.resources["lvs:index:RealServer"].properties as Record<string, { secret?: boolean }>).credentials.secret).toBe(true);
  });
});

describe("the plugin's calls", () => {
  const connection = { host: "192.0.2.10", user: "root", privateKey: { ...SECRET, value: "KEY" } };

  test("check names each bad property and its value, before anything connects", async () => {
    const r = await lvs.check!(urn("VirtualService"), {}, { connection, address: "1.2.3.4; reboot", port: 80, scheduler: "rr" });
    expect(r.failures).toEqual([expect.objectContaining({ property: "address", reason: expect.stringContaining("1.2.3.4; reboot") })]);
  });

  test("check keeps secrets secret (the program's, and the connection's key even when given plain) and takes the owner from the URN", async () => {
    const plain = { ...connection, privateKey: "KEY", password: "PW" };
    const r = await lvs.check!(urn("VirtualService"), {}, { connection: plain, address: "198.51.100.100", port: 80, scheduler: "rr" });
    expect(r.failures ?? []).toEqual([]);
    expect(r.inputs.connection.privateKey).toEqual({ ...SECRET, value: "KEY" });
    expect(r.inputs.connection.password).toEqual({ ...SECRET, value: "PW" });
    expect(r.inputs.connection.host).toBe("192.0.2.10");
    expect(r.inputs.owner).toBe(urn("VirtualService"));
  });

  test("a URN names the kind, inside a component too; another package's type is refused", () => {
    expect(kindOf(urn("RealServer"))).toBe("RealServer");
    expect(kindOf("urn:pulumi:dev::proj::my:index:Cluster$lvs:index:DirectorHost::d")).toBe("DirectorHost");
    expect(() => kindOf("urn:pulumi:dev::proj::aws:s3:Bucket::b")).toThrow("unknown resource type aws:s3:Bucket");
  });
});
