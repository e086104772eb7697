// Interoperability: the portal's real OpenID Connect client signs in through
// `oidc-provider` (an OpenID Certified provider, pinned in package.json) configured the
// way NHS login behaves: private_key_jwt with RS512 only, RS512 ID tokens, `vtr`
// accepted, `vot`, `vtm`, `nhs_number`, `identity_proofing_level` and `birthdate`
// issued. The provider's own login and consent screens are driven like a person would.
import { test, expect } from '@playwright/test'

test('signing in through an independent, certified OpenID provider works end to end', async ({ page }) => {
  await page.goto('/')
  await page.getByRole('button', { name: 'Continue to NHS login' }).click()
  await expect(page.getByRole('heading', { name: 'Sign-in' })).toBeVisible()
  await page.getByPlaceholder('Enter any login').fill('amelia')
  await page.getByPlaceholder('and password').fill('any password')
  await page.getByRole('button', { name: 'Sign-in' }).click()
  await expect(page.getByRole('heading', { name: 'Authorize' })).toBeVisible()
  await page.getByRole('button', { name: 'Continue' }).click()
  // A verified patient lands on their record.
  await expect(page).toHaveURL(/\/record$/)
  await expect(page.getByRole('navigation', { name: 'Account' })).toContainText('Signed in with NHS login')
})

test('cancelling at the independent provider lands on the "chose not to continue" page', async ({ page }) => {
  await page.goto('/')
  await page.getByRole('button', { name: 'Continue to NHS login' }).click()
  await expect(page.getByRole('heading', { name: 'Sign-in' })).toBeVisible()
  await page.getByRole('link', { name: '[ Cancel ]' }).click()
  await expect(page.getByRole('heading', { level: 1, name: 'You chose not to continue' })).toBeVisible()
})
