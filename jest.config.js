// Two projects: `unit` (pure logic, no hosts) and `e2e` (the VM lab and the real pulumi CLI).
const base = { preset: "ts-jest", testEnvironment: "node" };
module.exports = {
  projects: [
    { ...base, displayName: "unit", testMatch: ["<rootDir>/test/unit/**/*.test.ts"] },
    { ...base, displayName: "e2e", testMatch: ["<rootDir>/test/e2e/**/*.test.ts"] },
  ],
};
