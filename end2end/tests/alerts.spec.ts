import { expect, test, type Page } from "@playwright/test";

// Alerts that reach people: platform staff and a tenant admin each see their own channels (the
// demo points a WeCom robot and a webhook at its local sink), send a test notification, change a
// rule's threshold and add a channel, with garbage refused by field; in both languages, on a
// desktop and a phone.
const ADMIN = "admin@wxhub.demo";
const OPERATOR = "operator@wxhub.demo";
const PASSWORD = "wxhub-demo";
const shots = "test-results/screenshots";

async function hydrated(page: Page) {
  await page.locator("body[data-hydrated]").waitFor({ state: "attached" });
}

async function signIn(page: Page, email: string) {
  await page.goto("/login");
  await hydrated(page);
  await page.getByLabel(/Email|邮箱/).fill(email);
  await page.getByLabel(/Password|密码/).fill(PASSWORD);
  await page.locator("button[type=submit]").click();
  await expect(page).toHaveURL(/\/$/);
}

test("staff test the platform's robot, tune a rule and refuse a bad channel at 1280 px", async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 900 });
  await signIn(page, ADMIN);
  await page.getByRole("link", { name: "Alerts", exact: true }).click();
  await expect(page).toHaveURL(/\/alerts$/);
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "Alerts", level: 1 })).toBeVisible();
  // Seven rules for the platform, the database's among them.
  await expect(page.locator("[data-test=rules] tbody tr")).toHaveCount(7);
  await expect(page.locator('[data-test=rules] tr[data-rule="database_not_ready"]')).toBeVisible();
  const robot = page.locator("[data-test=channels] tbody tr", { hasText: "Demo robot" });
  await expect(robot).toContainText("WeCom group robot");
  await expect(robot).not.toContainText("demo-platform");
  await robot.locator("[data-test=test-channel]").click();
  await expect(page.locator("[data-test=test-result]")).toHaveText("Test notification sent.");
  await expect(robot.locator("[data-test=channel-state]")).toContainText("Last sent");

  // A threshold out of its bounds is refused; a good one is saved and marked changed.
  const stale = page.locator('[data-test=rules] tr[data-rule="ticket_stale"]');
  await stale.locator("[data-test=rule-threshold]").fill("5");
  await stale.locator("[data-test=save-rule]").click();
  await expect(page.locator("[data-test=alerts-error]")).toContainText("from 11 to 1440");
  await stale.locator("[data-test=rule-threshold]").fill("30");
  await stale.locator("[data-test=save-rule]").click();
  await expect(page.locator('[data-test=rules] tr[data-rule="ticket_stale"] .badge')).toHaveText("changed");
  await expect(page.locator('[data-test=rules] tr[data-rule="ticket_stale"] [data-test=rule-threshold]')).toHaveValue("30");

  // An e-mail channel with an unknown security mode names the field.
  await page.locator("[data-test=channel-kind]").selectOption("email");
  await page.getByLabel("Name", { exact: true }).fill("Ops mail");
  await page.getByLabel("SMTP host").fill("127.0.0.1");
  await page.getByLabel("From").fill("not an address");
  await page.getByLabel(/^To/).fill("ops@example.com");
  await page.locator("[data-test=create-channel]").click();
  await expect(page.locator('.field-error[data-field="from"]')).toBeVisible();
  await page.screenshot({ path: `${shots}/alerts-1280.png`, fullPage: true });
});

test("a tenant admin reads their own alerts in Chinese on a phone and adds a signed webhook", async ({ browser }) => {
  const context = await browser.newContext({ locale: "zh-CN", viewport: { width: 375, height: 812 } });
  const page = await context.newPage();
  await signIn(page, OPERATOR);
  await page.goto("/alerts");
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "告警", level: 1 })).toBeVisible();
  // The tenant's six rules (the database is the platform's), and only its own channel.
  await expect(page.locator("[data-test=rules] tbody tr")).toHaveCount(6);
  await expect(page.locator("[data-test=channels]")).toContainText("Demo alert hook");
  await expect(page.locator("[data-test=channels]")).not.toContainText("Demo robot");
  await page.locator("[data-test=channels] tbody tr", { hasText: "Demo alert hook" }).locator("[data-test=test-channel]").click();
  await expect(page.locator("[data-test=test-result]")).toHaveText("测试通知已发送。");

  await page.locator("[data-test=channel-kind]").selectOption("webhook");
  await page.getByLabel("名称", { exact: true }).fill("值班系统");
  await page.getByLabel("URL", { exact: true }).fill("http://127.0.0.1:9/wxhub-alerts");
  await page.locator("[data-test=create-channel]").click();
  await expect(page.locator("[data-test=channel-secret] code")).toHaveText(/^whsec_/);
  await expect(page.locator("[data-test=channels]")).toContainText("值班系统");
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(width).toBeLessThanOrEqual(375);
  // On a phone the tables read as cards: none scrolls sideways in its card.
  for (const table of ["channels", "rules"]) {
    const fits = await page.locator(`[data-test=${table}]`).evaluate((t) => t.scrollWidth <= (t.parentElement?.clientWidth ?? 0));
    expect(fits, `${table} fits the phone`).toBe(true);
  }
  await page.screenshot({ path: `${shots}/alerts-375-zh.png`, fullPage: true });
  await context.close();
});

test("the overview links its open alerts to the alerts page, in Chinese at 1280 px and in English at 375 px", async ({ browser }) => {
  for (const [locale, width, heading] of [["zh-CN", 1280, "概览"], ["en-US", 375, "Overview"]] as const) {
    const context = await browser.newContext({ locale, viewport: { width, height: 900 } });
    const page = await context.newPage();
    await signIn(page, ADMIN);
    await expect(page.getByRole("heading", { name: heading, level: 1 })).toBeVisible();
    await expect(page.locator("[data-test=charts] figure.chart")).toHaveCount(7);
    await expect(page.locator("[data-test=alerts-link]")).toHaveAttribute("href", "/alerts");
    const scroll = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(scroll).toBeLessThanOrEqual(width);
    await page.screenshot({ path: `${shots}/overview-${width}-${locale}.png`, fullPage: true });
    await context.close();
  }
});
