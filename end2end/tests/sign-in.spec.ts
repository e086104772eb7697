// Signing in and out through the built-in NHS login simulator, as a patient and as
// service desk staff, with JavaScript on and off.
import { test, expect, expectNoAccessibilityViolations, settle, signInAs } from './fixtures'

test('a patient signs in with NHS login and signs out again', async ({ page, consoleErrors, javaScriptEnabled }) => {
  await signInAs(page, 'Amelia Hart (P9)')
  await settle(page, javaScriptEnabled)
  // A verified patient lands on their record.
  await expect(page).toHaveURL(/\/record$/)
  await expect(page.getByRole('heading', { level: 1, name: 'Hello, Amelia' })).toBeVisible()
  await expect(page.getByRole('navigation', { name: 'Account' })).toContainText('Signed in with NHS login')
  await expectNoAccessibilityViolations(page, javaScriptEnabled)

  // Moving around (client-side with JavaScript) keeps the person signed in.
  await page.getByRole('contentinfo').getByRole('link', { name: 'About this service' }).click()
  await expect(page.getByRole('heading', { level: 1, name: 'About this service' })).toBeVisible()
  await page.getByRole('link', { name: 'Your health record homepage' }).click()
  await expect(page.getByText('You are signed in with NHS login.')).toBeVisible()

  await page.getByRole('button', { name: 'Sign out' }).click()
  await expect(page.getByRole('heading', { level: 1, name: 'You have signed out' })).toBeVisible()
  await expect(page.getByText('You may still be signed in to NHS login')).toBeVisible()
  await expectNoAccessibilityViolations(page, javaScriptEnabled)
  await page.goto('/')
  await expect(page.getByRole('button', { name: 'Continue to NHS login' })).toBeVisible()
})

test('cancelling at NHS login explains what happened and offers a way back', async ({ page, javaScriptEnabled }) => {
  await page.goto('/')
  await page.getByRole('button', { name: 'Continue to NHS login' }).click()
  await page.getByRole('button', { name: 'Cancel' }).click()
  await expect(page.getByRole('heading', { level: 1, name: 'You chose not to continue' })).toBeVisible()
  await expectNoAccessibilityViolations(page, javaScriptEnabled)
  await page.getByRole('button', { name: 'Continue to NHS login' }).click()
  await expect(page.getByRole('heading', { level: 1, name: 'NHS login (simulated)' })).toBeVisible()
})

test('someone whose identity is only partly checked is told how to see their record', async ({ page, javaScriptEnabled }) => {
  await signInAs(page, 'Priya Shah (P5)')
  await expect(page.getByRole('heading', { level: 1, name: 'Prove who you are to see your record' })).toBeVisible()
  await expectNoAccessibilityViolations(page, javaScriptEnabled)
  await page.getByRole('button', { name: 'Prove who you are with NHS login' }).click()
  await expect(page.getByRole('heading', { level: 1, name: 'NHS login (simulated)' })).toBeVisible()
})

test('a 12-year-old is told they cannot use the service yet', async ({ page, javaScriptEnabled }) => {
  await signInAs(page, 'Sophie Turner (P9)')
  await expect(page.getByRole('heading', { level: 1, name: 'You cannot use this service yet' })).toBeVisible()
  await expectNoAccessibilityViolations(page, javaScriptEnabled)
})

test('service desk staff sign in through their own identity provider', async ({ page, javaScriptEnabled }) => {
  await page.goto('/staff')
  await page.getByRole('button', { name: 'Sign in as staff' }).click()
  await expect(page.getByRole('heading', { level: 1, name: 'Staff sign-in (simulated)' })).toBeVisible()
  await page.getByLabel('Jordan Okoro').check()
  await page.getByRole('button', { name: 'Continue' }).click()
  await expect(page.getByText('You are signed in as service desk staff.')).toBeVisible()
  await expectNoAccessibilityViolations(page, javaScriptEnabled)
  await page.getByRole('button', { name: 'Sign out' }).click()
  await expect(page.getByRole('heading', { level: 1, name: 'You have signed out' })).toBeVisible()
})
