import { expect, test } from "@playwright/test";

// The demo starts a WeChat simulator beside the server. Its stand-in for WeChat's confirmation
// page is what an account owner "scans" in demo mode; here a pre_auth_code is minted through the
// simulator's control API (the console's authorization links arrive with issue 4).
const simulator = process.env.SIMULATOR_URL ?? "http://127.0.0.1:3918";
const component = "wx0de0c0de0000d001";
const shots = "test-results/screenshots";

test("an account owner confirms on the simulated WeChat page and is sent back with an auth_code", async ({ page, request, baseURL }) => {
  const minted = await request.post(`${simulator}/sim/control/pre-auth-codes`, { data: { component_appid: component } });
  expect(minted.status()).toBe(201);
  const { pre_auth_code } = await minted.json();
  const redirect = `${baseURL}/authorize/demo-link/done`;
  const query = new URLSearchParams({ component_appid: component, pre_auth_code, redirect_uri: redirect, auth_type: "3" });

  await page.setViewportSize({ width: 375, height: 812 });
  await page.goto(`${simulator}/wxaopen/safe/bindcomponent?action=bindcomponent&no_scan=1&${query}#wechat_redirect`);
  await expect(page.getByRole("heading", { name: /Confirm authorization/ })).toBeVisible();
  await expect(page.getByText("wxhub Demo Platform").first()).toBeVisible();
  for (const account of ["wx5a1c0ffee0000001", "wx5a1c0ffee0000002", "wx5a1c0ffee0000003", "wx5a1c0ffee0000004"]) {
    await expect(page.locator(`[data-account="${account}"]`)).toBeAttached();
  }
  await page.screenshot({ path: `${shots}/simulator-confirm-mobile.png`, fullPage: true });

  await page.locator('[data-account="wx5a1c0ffee0000003"]').check();
  await page.locator('[data-func="18"]').uncheck();
  await page.getByRole("button", { name: /Authorize/ }).click();
  await page.waitForURL(/\/authorize\/demo-link\/done\?auth_code=queryauthcode%40%40%40/);
  expect(new URL(page.url()).searchParams.get("expires_in")).toBe("600");

  // The simulator recorded the authorization with the chosen sets, and pushed `authorized` to the
  // demo server, which took it (the demo tenant owns this component).
  const state = await (await request.get(`${simulator}/sim/control/state`)).json();
  const auth = state.components[0].authorizations.find((a: { authorizer_appid: string }) => a.authorizer_appid === "wx5a1c0ffee0000003");
  expect(auth.func_ids).toEqual([17, 19, 30, 31]);
  await expect
    .poll(async () =>
      (await (await request.get(`${simulator}/sim/control/pushes`)).json()).some(
        (p: { info_type: string; outcome: string }) => p.info_type === "authorized" && p.outcome === "delivered",
      ),
    )
    .toBe(true);

  // The code is one-shot: the same page now explains why it cannot be used.
  await page.goto(`${simulator}/cgi-bin/componentloginpage?${query}`);
  await expect(page.locator("#sim-error")).toContainText("already been used");
  await page.screenshot({ path: `${shots}/simulator-used-code.png`, fullPage: true });

  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${simulator}/sim`);
  await expect(page.getByText("小鹿便利店 Fawn Mart")).toBeVisible();
  await page.screenshot({ path: `${shots}/simulator-overview.png`, fullPage: true });
});
