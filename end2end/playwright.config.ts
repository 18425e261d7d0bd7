// Playwright drives Debian's Chromium (no browser download) against the real server in demo mode,
// started fresh for every run on its own port and data directory.
import { defineConfig } from "@playwright/test";

const port = Number(process.env.WXHUB_E2E_PORT ?? 3917);
// The demo's in-process WeChat simulator; tests reach it at SIMULATOR_URL.
const simulatorPort = port + 1;
process.env.SIMULATOR_URL = `http://127.0.0.1:${simulatorPort}`;
const server = process.env.WXHUB_E2E_SERVER ?? "../target/debug/server";
const dataDir = "test-results/.wxhub-data";

export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  outputDir: "test-results/artifacts",
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    browserName: "chromium",
    headless: true,
    screenshot: "only-on-failure",
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: process.env.WXHUB_CHROMIUM ?? "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  webServer: {
    command: `rm -rf ${dataDir} && ${server} demo --data-dir ${dataDir} --listen 127.0.0.1:${port} --simulator-listen 127.0.0.1:${simulatorPort} --site-root ../target/site`,
    url: `http://127.0.0.1:${port}/readyz`,
    timeout: 120_000,
    reuseExistingServer: false,
    stdout: "ignore",
    stderr: "pipe",
  },
});
