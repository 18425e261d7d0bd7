import { expect, test, type Page } from "@playwright/test";

// The operations overview: platform staff see every tenant's health and the charts (drawn as SVG
// in the page's HTML, so they show before and without JavaScript), in both languages, on a
// desktop and a phone; a tenant operator sees the same charts for their own accounts.
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

test("platform staff read the platform's health and its charts at 1280 px, then switch to 30 days", async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 900 });
  await signIn(page, ADMIN);
  await expect(page.getByRole("heading", { name: "Overview", level: 1 })).toBeVisible();
  await expect(page.locator("[data-test=platform-stats] [data-status=authorized] .stat-value")).toHaveText(/^\d+$/);
  await expect(page.locator("[data-test=open-alerts]")).toBeVisible();
  await expect(page.locator("[data-test=problem-tenants]")).toBeVisible();
  const charts = page.locator("[data-test=charts] figure.chart");
  await expect(charts).toHaveCount(7);
  await expect(page.locator('figure[data-chart="refreshes"][data-bucket="hour"] svg rect.hit')).toHaveCount(24);
  await expect(page.locator('figure[data-chart="authorizations"][data-bucket="day"] svg rect.hit')).toHaveCount(30);
  // The demo refreshes its tokens: the last 24 hours have refreshes, and hovering a bar names it.
  await expect.poll(async () => {
    await page.reload();
    return Number(await page.locator('figure[data-chart="refreshes"]').getAttribute("data-total"));
  }, { timeout: 30_000, intervals: [2_000] }).toBeGreaterThan(0);
  await hydrated(page);
  const lastBar = page.locator('figure[data-chart="refreshes"] g.bar-slot').last();
  await lastBar.hover();
  await expect(page.locator('figure[data-chart="refreshes"] .chart-detail')).toHaveText(/^\d\d-\d\d \d\d:00 · \d+/);
  await page.screenshot({ path: `${shots}/overview-1280.png`, fullPage: true });

  await page.getByRole("link", { name: "30 days" }).click();
  await expect(page).toHaveURL(/range=30d/);
  await expect(page.locator('figure[data-chart="refreshes"][data-bucket="day"] svg rect.hit')).toHaveCount(30);
  await page.screenshot({ path: `${shots}/overview-30d-1280.png`, fullPage: true });
});

test("the overview reads in Chinese on a phone, and works without JavaScript", async ({ browser }) => {
  const context = await browser.newContext({ locale: "zh-CN", viewport: { width: 375, height: 812 } });
  const page = await context.newPage();
  await signIn(page, ADMIN);
  await expect(page.getByRole("heading", { name: "概览", level: 1 })).toBeVisible();
  await expect(page.locator("[data-test=charts] figure.chart")).toHaveCount(7);
  await expect(page.locator('figure[data-chart="refreshes"] figcaption')).toContainText("令牌刷新");
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(width).toBeLessThanOrEqual(375);
  await page.screenshot({ path: `${shots}/overview-375-zh.png`, fullPage: true });
  // The same page with scripts off: the charts are in the HTML.
  const cookies = await context.cookies();
  const plain = await browser.newContext({ javaScriptEnabled: false, locale: "zh-CN", viewport: { width: 375, height: 812 } });
  await plain.addCookies(cookies);
  const noJs = await plain.newPage();
  await noJs.goto("/?range=30d");
  await expect(noJs.locator('[data-test=charts] figure.chart[data-bucket="day"]')).toHaveCount(7);
  await plain.close();
  await context.close();
});

test("a tenant operator sees charts of their own accounts on the dashboard", async ({ page }) => {
  await signIn(page, OPERATOR);
  await expect(page.locator("[data-test=charts] figure.chart")).toHaveCount(7);
  await page.screenshot({ path: `${shots}/dashboard-charts.png`, fullPage: true });
});
