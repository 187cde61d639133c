// Two projects: `unit` (pure logic, no hosts) and `e2e` (the VM lab and the real pulumi CLI).
const base = { preset: "ts-jest", testEnvironment: "node" };
module.exports = {
  projects: [
    { ...base, displayName: "unit", testMatch: ["<rootDir>/test/unit/**/*.test.ts"] },
    // Worker N drives lab N (see test/e2e/lab-environment.js).
    {
      ...base,
      displayName: "e2e",
      testMatch: ["<rootDir>/test/e2e/**/*.test.ts"],
      testEnvironment: "<rootDir>/test/e2e/lab-environment.js",
    },
  ],
};
