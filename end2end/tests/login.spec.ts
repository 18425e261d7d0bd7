import { expect, test, type Page } from "@playwright/test";

const ADMIN = "admin@wxhub.demo";
const OPERATOR = "operator@wxhub.demo";
const PASSWORD = "wxhub-demo";
const shots = "test-results/screenshots";

async function signIn(page: Page, email: string, password: string) {
  await page.goto("/login");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

// Hydration is done when the wasm has taken over; clicking before that would post the form
// the no-JavaScript way, which is tested separately below.
async function hydrated(page: Page) {
  await page.locator("body[data-hydrated]").waitFor({ state: "attached" });
}

test("a wrong password is refused with one clear message", async ({ page }) => {
  await page.goto("/login");
  await hydrated(page);
  await page.screenshot({ path: `${shots}/login.png`, fullPage: true });
  await signIn(page, OPERATOR, "not the password");
  await expect(page.getByRole("alert")).toHaveText("Invalid email or password.");
  await expect(page).toHaveURL(/\/login/);
  await page.screenshot({ path: `${shots}/login-error.png`, fullPage: true });
});

test("a tenant admin signs in, sees the console, and signs out", async ({ page }) => {
  await page.goto("/login");
  await hydrated(page);
  await signIn(page, OPERATOR, PASSWORD);
  await expect(page).toHaveURL(/\/$/);
  await expect(page.locator("[data-test=welcome]")).toContainText(OPERATOR);
  await expect(page.locator("[data-test=context]")).toHaveText("Demo Retail Co.");
  const nav = page.getByRole("navigation", { name: "Main" });
  for (const item of ["Dashboard", "Accounts", "Authorization links", "Components", "API keys", "Users"]) {
    await expect(nav.getByRole("link", { name: item })).toBeVisible();
  }
  await page.screenshot({ path: `${shots}/dashboard-tenant.png`, fullPage: true });

  await nav.getByRole("link", { name: "Users" }).click();
  await expect(page).toHaveURL(/\/users$/);
  await expect(page.locator(`[data-user="${OPERATOR}"] [data-test=user-role]`)).toHaveText("Tenant admin");

  await page.locator("[data-test=logout]").click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto("/");
  await expect(page).toHaveURL(/\/login$/);
});

test("a platform admin gets the platform navigation", async ({ page }) => {
  await page.goto("/login");
  await hydrated(page);
  await signIn(page, ADMIN, PASSWORD);
  await expect(page.locator("[data-test=context]")).toHaveText("Platform");
  const nav = page.getByRole("navigation", { name: "Main" });
  for (const item of ["Overview", "Tenants", "Authorizations", "Audit log"]) {
    await expect(nav.getByRole("link", { name: item })).toBeVisible();
  }
  await page.screenshot({ path: `${shots}/dashboard-platform.png`, fullPage: true });
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("the login form still works", async ({ page }) => {
    await signIn(page, OPERATOR, "still not the password");
    await expect(page.getByRole("alert")).toHaveText("Invalid email or password.");
    await signIn(page, OPERATOR, PASSWORD);
    await expect(page.locator("[data-test=welcome]")).toContainText(OPERATOR);
  });
});

test.describe("on a phone", () => {
  test.use({ viewport: { width: 375, height: 740 } });

  test("the login page fits", async ({ page }) => {
    await page.goto("/login");
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(375);
    await page.screenshot({ path: `${shots}/login-375.png`, fullPage: true });
  });
});
