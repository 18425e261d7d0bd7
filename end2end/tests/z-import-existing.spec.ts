import { expect, test, type Page } from "@playwright/test";

// Importing a component's existing authorizations, as an operator meets it: the demo's simulator
// holds 300 accounts authorized "before wxhub"; the components page imports them with progress, and
// they appear among the tenant's accounts. Named to run last: it adds 300 accounts, which the
// other journeys' first pages do not expect.
const OPERATOR = "operator@wxhub.demo";
const PASSWORD = "wxhub-demo";
const COMPONENT = "wx0de0c0de0000d001";
const shots = "test-results/screenshots";

async function hydrated(page: Page) {
  await page.locator("body[data-hydrated]").waitFor({ state: "attached" });
}

test("an operator imports the component's existing authorizations and sees them", async ({ page }) => {
  test.setTimeout(120_000);
  await page.goto("/login");
  await hydrated(page);
  await page.getByLabel("Email").fill(OPERATOR);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/$/);

  await page.goto("/components");
  await hydrated(page);
  const card = page.locator(`[data-component="${COMPONENT}"]`);
  const panel = card.locator("[data-test=import]");
  await expect(panel.locator("[data-test=import-progress]")).toHaveCount(0);
  await panel.locator("[data-test=start-import]").click();
  const progress = panel.locator("[data-test=import-progress]");
  await expect(progress).toBeVisible();
  // Followed on the page while it runs, until it is done.
  await expect(progress).toHaveAttribute("data-status", "done", { timeout: 90_000 });
  await expect(panel.locator("[data-test=import-counts]")).toContainText("300 new");
  await expect(panel.locator("[data-test=import-counts]")).toContainText("0 failed");
  await expect(panel.locator("[data-test=start-import]")).toHaveText("Import again");
  await panel.scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${shots}/components-import.png`, fullPage: true });

  // The imported accounts are the tenant's, with their names.
  await expect(async () => {
    await page.goto("/accounts?q=Existing");
    await expect(page.locator("main")).toContainText("1–50 of 300", { timeout: 1_000 });
  }).toPass({ timeout: 20_000 });
  await expect(page.locator("main")).toContainText("Existing account 2");
  await expect(page.locator("main")).toContainText("Existing mini program 5");
  await page.screenshot({ path: `${shots}/accounts-imported.png`, fullPage: true });
});
