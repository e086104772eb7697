// Proxy access, with JavaScript on and off: a parent acts for their child under a banner
// and switches back; an attorney sees only what the grant opens; a patient invites
// someone, who accepts with their own NHS login and loses access the moment it is
// revoked; the service desk verifies an application. axe-core checks each new page,
// and one journey is made by keyboard alone.
//
// Both projects share one demo database and run side by side, so the journeys that
// change anything use different people in each project.
import { test, expect, deskFindsPatient, expectNoAccessibilityViolations, settle, signInAs } from './fixtures'
import type { Browser, Page } from '@playwright/test'

const demoURL = 'http://127.0.0.1:3100'

async function signIn(page: Page, person: string, javaScriptEnabled: boolean) {
  await signInAs(page, person)
  await settle(page, javaScriptEnabled)
}

/// A second person at their own computer: a browser context of their own.
async function otherPerson(browser: Browser, javaScriptEnabled: boolean) {
  const context = await browser.newContext({ javaScriptEnabled, baseURL: demoURL })
  return { context, page: await context.newPage() }
}

const banner = (page: Page) => page.getByRole('region', { name: 'Whose record this is' })

test('a parent acts for their child with a banner on every page, and switches back', async ({ page, consoleErrors, javaScriptEnabled }) => {
  await signIn(page, 'Daniel Hart (P9)', javaScriptEnabled)
  await expect(page.getByRole('heading', { level: 1, name: 'Whose record do you want to see?' })).toBeVisible()
  await expectNoAccessibilityViolations(page, javaScriptEnabled)
  await page.getByRole('button', { name: "See Oliver Hart's record" }).click()
  await settle(page, javaScriptEnabled)
  await expect(banner(page)).toContainText('Acting for Oliver Hart')
  await expect(page.getByRole('heading', { level: 1, name: "Oliver Hart's record" })).toBeVisible()
  await expectNoAccessibilityViolations(page, javaScriptEnabled)
  for (const section of ['Appointments', 'Letters and documents', 'Test results']) {
    await page.getByRole('navigation', { name: 'Your record' }).getByRole('link', { name: section }).click()
    await settle(page, javaScriptEnabled)
    await expect(banner(page)).toContainText('Acting for Oliver Hart')
  }
  await page.getByRole('button', { name: 'Switch to your own record' }).click()
  await settle(page, javaScriptEnabled)
  await expect(banner(page)).toHaveCount(0)
  await expect(page.getByRole('heading', { level: 1, name: 'Your record' })).toBeVisible()
})

test('an attorney sees appointments and letters, and is told results are not part of their access', async ({ page, consoleErrors, javaScriptEnabled }) => {
  await signIn(page, 'Ngozi Okafor (P9)', javaScriptEnabled)
  await page.getByRole('button', { name: "See Grace Okafor's record" }).click()
  await settle(page, javaScriptEnabled)
  await expect(banner(page)).toContainText('Acting for Grace Okafor')
  await page.goto('/record/results')
  await settle(page, javaScriptEnabled)
  await expect(page.getByText('Your access to this record does not include test results.')).toBeVisible()
  await expectNoAccessibilityViolations(page, javaScriptEnabled)
  await page.goto('/record/letters')
  await settle(page, javaScriptEnabled)
  await expect(page.getByText('does not include')).toHaveCount(0)
})

test('a patient invites someone, who accepts, sees only what was granted, and loses it when revoked', async ({ page, browser, consoleErrors, javaScriptEnabled }) => {
  const invitee = javaScriptEnabled
    ? { label: 'Ngozi Okafor (P9)', given: 'Ngozi', family: 'Okafor', born: ['14', '7', '1968'] }
    : { label: 'Daniel Hart (P9)', given: 'Daniel', family: 'Hart', born: ['30', '1', '1982'] }
  const name = `${invitee.given} ${invitee.family}`

  await signIn(page, 'Amelia Hart (P9)', javaScriptEnabled)
  await page.getByRole('link', { name: 'People who can see your record' }).click()
  await settle(page, javaScriptEnabled)
  await expect(page.getByRole('heading', { level: 1, name: 'People who can see your record' })).toBeVisible()
  await expectNoAccessibilityViolations(page, javaScriptEnabled)
  await page.getByRole('button', { name: 'Invite someone' }).click()
  await settle(page, javaScriptEnabled)
  await expectNoAccessibilityViolations(page, javaScriptEnabled)

  // Sent with nothing filled in: every problem is listed, and the page is still usable.
  await page.getByLabel('First name').fill(invitee.given)
  await page.getByRole('button', { name: 'Create invitation' }).click()
  await settle(page, javaScriptEnabled)
  await expect(page.getByRole('heading', { name: 'There is a problem' })).toBeVisible()
  await expect(page.getByRole('link', { name: 'Enter their last name' })).toBeVisible()
  await expect(page.getByLabel('First name')).toHaveValue(invitee.given)
  await expectNoAccessibilityViolations(page, javaScriptEnabled)

  await page.getByLabel('Last name').fill(invitee.family)
  const born = page.getByRole('group', { name: 'Date of birth' })
  await born.getByLabel('Day').fill(invitee.born[0])
  await born.getByLabel('Month').fill(invitee.born[1])
  await born.getByLabel('Year').fill(invitee.born[2])
  await page.getByLabel('How are they related to you?').fill('friend')
  // Letters only.
  await page.getByLabel('Appointments').uncheck()
  await page.getByLabel('Test results').uncheck()
  await page.getByRole('button', { name: 'Create invitation' }).click()
  await settle(page, javaScriptEnabled)
  await expect(page.getByRole('heading', { level: 1, name: 'Invitation created' })).toBeVisible()
  await expectNoAccessibilityViolations(page, javaScriptEnabled)
  const code = (await page.locator('.app-invitation-code').textContent())!.trim()
  expect(code).toMatch(/^[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$/)

  // The invitee, at their own computer.
  const { context, page: theirs } = await otherPerson(browser, javaScriptEnabled)
  await signIn(theirs, invitee.label, javaScriptEnabled)
  await theirs.getByRole('link', { name: "Accept an invitation to see someone's record" }).click()
  await settle(theirs, javaScriptEnabled)
  await expectNoAccessibilityViolations(theirs, javaScriptEnabled)
  await theirs.getByLabel('Invitation code').fill(code.toLowerCase())
  await theirs.getByRole('button', { name: 'Continue' }).click()
  await settle(theirs, javaScriptEnabled)
  await expect(theirs.getByRole('heading', { level: 1, name: 'Amelia Hart has invited you to see their record' })).toBeVisible()
  await expectNoAccessibilityViolations(theirs, javaScriptEnabled)
  await theirs.getByRole('button', { name: 'Accept invitation' }).click()
  await settle(theirs, javaScriptEnabled)
  await theirs.getByRole('button', { name: "See Amelia Hart's record" }).click()
  await settle(theirs, javaScriptEnabled)
  await expect(banner(theirs)).toContainText('Acting for Amelia Hart')
  await theirs.goto('/record/letters')
  await settle(theirs, javaScriptEnabled)
  await expect(theirs.getByRole('link', { name: 'Rheumatology clinic letter' })).toBeVisible()
  await theirs.goto('/record/results')
  await settle(theirs, javaScriptEnabled)
  await expect(theirs.getByText('Your access to this record does not include test results.')).toBeVisible()
  await expect(theirs.getByText('Full blood count')).toHaveCount(0)

  // Amelia stops it.
  await page.goto('/account/people')
  await settle(page, javaScriptEnabled)
  await page.getByRole('link', { name: `Change or stop ${name}'s access` }).click()
  await settle(page, javaScriptEnabled)
  await expectNoAccessibilityViolations(page, javaScriptEnabled)
  await page.getByRole('button', { name: 'Stop access' }).click()
  await settle(page, javaScriptEnabled)
  await expect(page.getByText('Revoked', { exact: true })).toBeVisible()

  // At their next request they see nothing of hers.
  await theirs.goto('/record/letters')
  await settle(theirs, javaScriptEnabled)
  await expect(theirs.getByRole('heading', { level: 1, name: 'You cannot see this record' })).toBeVisible()
  await expect(theirs.getByText('Rheumatology clinic letter')).toHaveCount(0)
  await context.close()
})

test('the service desk verifies an application, and the applicant then acts within the grant', async ({ page, browser, consoleErrors, javaScriptEnabled }) => {
  const applicant = javaScriptEnabled
    ? { label: 'Daniel Hart (P9)', name: 'Daniel Hart', relationship: 'nephew' }
    : { label: 'Ngozi Okafor (P9)', name: 'Ngozi Okafor', relationship: 'friend' }
  await signIn(page, applicant.label, javaScriptEnabled)
  await page.getByRole('link', { name: 'Apply as a parent, attorney or deputy' }).click()
  await settle(page, javaScriptEnabled)
  await expectNoAccessibilityViolations(page, javaScriptEnabled)
  await page.getByLabel('Court-appointed deputy').check()
  await page.getByLabel('How are you related to them?').fill(applicant.relationship)
  await page.getByLabel('Their NHS number').fill('999 000 4129')
  const born = page.getByRole('group', { name: 'Their date of birth' })
  await born.getByLabel('Day').fill('30')
  await born.getByLabel('Month').fill('9')
  await born.getByLabel('Year').fill('1968')
  await page.getByLabel('Evidence reference').fill('COP 1234567')
  await page.getByRole('button', { name: 'Send application' }).click()
  await settle(page, javaScriptEnabled)
  await expect(page.getByText('Waiting for the service desk to check it').first()).toBeVisible()

  // The desk, at its own computer.
  const { context, page: desk } = await otherPerson(browser, javaScriptEnabled)
  await desk.goto('/staff')
  await desk.getByRole('button', { name: 'Sign in as staff' }).click()
  await desk.getByLabel('Jordan Okoro').check()
  await desk.getByRole('button', { name: 'Continue' }).click()
  await settle(desk, javaScriptEnabled)
  await desk.getByRole('navigation', { name: 'Service desk' }).getByRole('link', { name: 'Proxy applications' }).click()
  await settle(desk, javaScriptEnabled)
  await expectNoAccessibilityViolations(desk, javaScriptEnabled)
  await desk.getByRole('link', { name: applicant.name }).click()
  await settle(desk, javaScriptEnabled)
  await expect(desk.getByText('Mohammed Iqbal, born 30 September 1968: the date of birth matches')).toBeVisible()
  await expectNoAccessibilityViolations(desk, javaScriptEnabled)
  await desk.getByLabel('Grant access').check()
  await desk.getByLabel('Decision-maker').fill('Jordan Okoro, service desk')
  await desk.getByLabel('Reason').fill('Court order seen')
  await desk.getByLabel('Letters and documents').uncheck()
  await desk.getByLabel('Test results').uncheck()
  await desk.getByRole('button', { name: 'Record decision' }).click()
  await settle(desk, javaScriptEnabled)
  await expect(desk.getByRole('heading', { level: 1, name: 'Proxy applications to check' })).toBeVisible()
  await expect(desk.getByRole('link', { name: applicant.name })).toHaveCount(0)
  await context.close()

  // The applicant now acts for Mohammed, within appointments only.
  await page.goto('/proxy/choose')
  await settle(page, javaScriptEnabled)
  await page.getByRole('button', { name: "See Mohammed Iqbal's record" }).click()
  await settle(page, javaScriptEnabled)
  await expect(banner(page)).toContainText('Acting for Mohammed Iqbal')
  await page.goto('/record/letters')
  await settle(page, javaScriptEnabled)
  await expect(page.getByText('Your access to this record does not include letters.')).toBeVisible()
})

test('a parent opens their child’s record and returns to their own using only the keyboard', async ({ page, consoleErrors, javaScriptEnabled }) => {
  await signIn(page, 'Daniel Hart (P9)', javaScriptEnabled)
  async function tabTo(name: string) {
    for (let presses = 0; presses < 60; presses++) {
      await page.keyboard.press('Tab')
      const focused = await page.evaluate(() => document.activeElement?.textContent?.trim() ?? '')
      if (focused === name) return
    }
    throw new Error(`could not reach "${name}" with the Tab key`)
  }
  await tabTo("See Oliver Hart's record")
  await page.keyboard.press('Enter')
  await settle(page, javaScriptEnabled)
  await expect(banner(page)).toContainText('Acting for Oliver Hart')
  await tabTo('Switch to your own record')
  await page.keyboard.press('Enter')
  await settle(page, javaScriptEnabled)
  await expect(banner(page)).toHaveCount(0)
})

test('the service desk finds who can see a record and opens a grant with its history', async ({ page, consoleErrors, javaScriptEnabled }) => {
  await page.goto('/staff')
  await page.getByRole('button', { name: 'Sign in as staff' }).click()
  await page.getByLabel('Jordan Okoro').check()
  await page.getByRole('button', { name: 'Continue' }).click()
  await settle(page, javaScriptEnabled)
  // Grants are found on the patient's page: NHS number, date of birth and a reason.
  await page.getByRole('navigation', { name: 'Service desk' }).getByRole('link', { name: 'Find a patient' }).click()
  await settle(page, javaScriptEnabled)
  await deskFindsPatient(page, javaScriptEnabled, '999 000 2754', ['3', '2', '1941'], 'A letter or form from the patient')
  await expect(page.getByRole('heading', { level: 1, name: 'Grace Okafor' })).toBeVisible()
  await expect(page.getByRole('heading', { name: 'People who can see this record' })).toBeVisible()
  await expectNoAccessibilityViolations(page, javaScriptEnabled)
  await page.getByRole('link', { name: 'Ngozi Okafor' }).click()
  await settle(page, javaScriptEnabled)
  await expect(page.getByText('Lasting power of attorney (health and welfare)').first()).toBeVisible()
  await expect(page.getByRole('button', { name: 'Record change' })).toBeVisible()
  await expectNoAccessibilityViolations(page, javaScriptEnabled)
})
