import { expect, test, type Page } from "@playwright/test";
import { readFileSync } from "node:fs";

// Platform staff across tenants: the admin creates a tenant and an auditor, suspends and
// reactivates the tenant, reads every authorization and an account's timeline, filters the audit
// log and exports it; the auditor sees the same pages without a single control that changes
// anything. City Morning authorizes first, on the simulated WeChat page, so there is an account to
// audit whatever else has run.
const ADMIN = "admin@wxhub.demo";
const PASSWORD = "wxhub-demo";
const AUDITOR = "auditor@wxhub.demo";
const AUDITOR_PASSWORD = "auditor password 1";
const ACCOUNT = "wx5a1c0ffee0000002"; // 城市早报 City Morning
const COMPONENT = "wx0de0c0de0000d001";
const simulator = process.env.SIMULATOR_URL ?? "http://127.0.0.1:3918";
const shots = "test-results/screenshots";

/** The owner of ACCOUNT confirms on the simulated WeChat page (as if through a demo link). */
async function authorizeAccount(page: Page, baseURL: string) {
  const minted = await page.request.post(`${simulator}/sim/control/pre-auth-codes`, { data: { component_appid: COMPONENT } });
  expect(minted.status()).toBe(201);
  const { pre_auth_code } = await minted.json();
  const query = new URLSearchParams({ component_appid: COMPONENT, pre_auth_code, redirect_uri: `${baseURL}/authorize/demo-link/done`, auth_type: "3" });
  await page.goto(`${simulator}/wxaopen/safe/bindcomponent?action=bindcomponent&no_scan=1&${query}#wechat_redirect`);
  await page.locator(`[data-account="${ACCOUNT}"]`).check();
  await page.getByRole("button", { name: /Authorize/ }).click();
  await page.waitForURL(/auth_code=/);
}

async function hydrated(page: Page) {
  await page.locator("body[data-hydrated]").waitFor({ state: "attached" });
}

async function signIn(page: Page, email: string, password: string) {
  await page.goto("/login");
  await hydrated(page);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/$/);
}

test("a platform admin manages tenants and users and audits every authorization", async ({ page, baseURL }) => {
  test.setTimeout(90_000);
  await authorizeAccount(page, baseURL!);
  await signIn(page, ADMIN, PASSWORD);
  const nav = page.getByRole("navigation", { name: "Main" });

  // Tenants: the form checks the slug in the browser, then the tenant appears.
  await nav.getByRole("link", { name: "Tenants" }).click();
  await expect(page.getByRole("heading", { name: "Tenants", level: 1 })).toBeVisible();
  await hydrated(page);
  await expect(page.locator('[data-tenant="demo"]')).toBeVisible();
  await page.locator("#tenant-slug").fill("Bad Slug!");
  await page.locator("#tenant-name").fill("Globex");
  await page.locator("[data-test=create-tenant]").click();
  await expect(page.locator('.field-error[data-field="slug"]')).toBeVisible();
  await page.locator("#tenant-slug").fill("globex");
  await page.locator("[data-test=create-tenant]").click();
  const globex = page.locator('[data-tenant="globex"]');
  await expect(globex).toBeVisible();
  await expect(globex.locator("[data-test=tenant-state]")).toHaveText("Active");
  page.once("dialog", (d) => d.accept());
  await globex.locator("[data-test=toggle-tenant]").click();
  await expect(globex.locator("[data-test=tenant-state]")).toHaveText("Suspended");
  await page.screenshot({ path: `${shots}/platform-tenants.png`, fullPage: true });
  page.once("dialog", (d) => d.accept());
  await globex.locator("[data-test=toggle-tenant]").click();
  await expect(globex.locator("[data-test=tenant-state]")).toHaveText("Active");

  // Users of every tenant; the admin adds an auditor.
  await nav.getByRole("link", { name: "Users" }).click();
  await hydrated(page);
  await expect(page.locator('[data-user="operator@wxhub.demo"]')).toContainText("Demo Retail Co.");
  await page.locator("#su-email").fill(AUDITOR);
  await page.locator("#su-role").selectOption("platform-auditor");
  await page.locator("#su-tenant").selectOption("globex");
  await page.locator("#su-password").fill(AUDITOR_PASSWORD);
  await page.locator("[data-test=create-staff-user]").click();
  await expect(page.locator('.field-error[data-field="tenant"]')).toBeVisible();
  await page.locator("#su-tenant").selectOption("");
  await page.locator("[data-test=create-staff-user]").click();
  await expect(page.locator(`[data-user="${AUDITOR}"]`)).toContainText("Platform auditor");
  await page.screenshot({ path: `${shots}/platform-users.png`, fullPage: true });

  // Every authorization, filtered by tenant and permission set, then one account's timeline.
  await nav.getByRole("link", { name: "Authorizations" }).click();
  await expect(page).toHaveURL(/\/authorizations$/);
  await expect(async () => {
    await page.reload();
    await expect(page.locator(`[data-test=authorizations] tr[data-appid="${ACCOUNT}"]`)).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 15_000 });
  await page.goto("/authorizations?tenant=globex");
  await expect(page.locator("[data-test=no-authorizations]")).toBeVisible();
  await page.goto("/authorizations?tenant=demo&permission=1");
  await expect(page.locator(`[data-test=authorizations] tr[data-appid="${ACCOUNT}"]`)).toBeVisible();
  await page.screenshot({ path: `${shots}/platform-authorizations.png`, fullPage: true });
  await page.locator(`tr[data-appid="${ACCOUNT}"] [data-test=timeline-link]`).click();
  await expect(page.locator("[data-test=timeline-status]")).toHaveText("Authorized");
  await expect(page.locator("[data-test=timeline-history]")).toContainText("authorized");
  await expect(page.locator("[data-test=audit-events]")).toContainText("authorizer.");
  await page.screenshot({ path: `${shots}/platform-timeline.png`, fullPage: true });

  // The audit log: the tenant events just made, filtered by kind family; a bad date is named.
  await nav.getByRole("link", { name: "Audit log" }).click();
  await expect(page.locator("[data-test=audit-events]")).toContainText("tenant.suspended");
  await page.goto("/audit?kind=tenant.&actor=admin%40wxhub.demo");
  const rows = page.locator("[data-test=audit-events] tbody tr");
  await expect(rows).toHaveCount(3); // created, suspended, reactivated
  await page.screenshot({ path: `${shots}/platform-audit.png`, fullPage: true });
  await page.goto("/audit?from=yesterday");
  await expect(page.getByRole("alert")).toHaveText("from: a date as YYYY-MM-DD");

  // The CSV of a filtered view holds exactly that view.
  await page.goto("/audit?kind=tenant.");
  await hydrated(page);
  const download = page.waitForEvent("download");
  await page.locator("[data-test=audit-csv]").click();
  const file = await (await download).path();
  const csv = readFileSync(file!, "utf8").replace(/^\uFEFF/, "");
  const lines = csv.trim().split("\n");
  expect(lines[0]).toBe("id,occurred_at,tenant,component,account,actor_kind,actor,kind,outcome,summary,ip");
  expect(lines.slice(1).every((l) => l.includes(",tenant."))).toBe(true);
  expect(lines.length).toBeGreaterThanOrEqual(4);

  // The same pages in Chinese.
  await page.locator("[data-test=lang-switch]").click();
  await expect(page.getByRole("heading", { name: "审计日志", level: 1 })).toBeVisible();
  await expect(page.locator("[data-test=audit-csv]")).toHaveText("导出 CSV");
  await page.screenshot({ path: `${shots}/platform-audit-zh.png`, fullPage: true });
  await page.goto("/tenants");
  await expect(page.getByRole("heading", { name: "租户", level: 1 })).toBeVisible();
  await expect(page.locator('[data-tenant="globex"] [data-test=tenant-state]')).toHaveText("正常");
  await page.screenshot({ path: `${shots}/platform-tenants-zh.png`, fullPage: true });
  await page.locator("[data-test=lang-switch]").click();
  await expect(page.getByRole("heading", { name: "Tenants", level: 1 })).toBeVisible();
});

test("an auditor reads everything and is offered no change", async ({ page }) => {
  await signIn(page, AUDITOR, AUDITOR_PASSWORD);
  await expect(page.locator("[data-test=welcome]")).toContainText("Platform auditor");
  for (const path of ["/tenants", "/platform/users", "/components", "/authorizations", "/audit"]) {
    await page.goto(path);
    await hydrated(page);
    await expect(page.locator("main.content h1")).toBeVisible();
    await expect(page.locator("main.content form.form, main.content [data-test^=toggle], main.content [data-test^=create]")).toHaveCount(0);
  }
  await page.goto("/users");
  await expect(page).toHaveURL(/\/platform\/users$/);
  await expect(page.locator('[data-user="operator@wxhub.demo"]')).toBeVisible();
  await page.goto("/tenants");
  await expect(page.locator('[data-tenant="globex"]')).toBeVisible();
  await page.screenshot({ path: `${shots}/auditor-tenants.png`, fullPage: true });
  // Asking the server directly is refused too.
  const res = await page.request.post("/ui/create-tenant", { form: { "form[slug]": "sneaky", "form[name]": "Sneaky" } });
  expect(res.status()).toBe(403);
});
