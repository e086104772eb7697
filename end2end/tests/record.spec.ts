// The patient's record: overview, appointments, letters, results and a test's history,
// with JavaScript on and off, axe-core on every page, and one journey by keyboard only;
// and a download of the whole record in its three formats.
import { test, expect, expectNoAccessibilityViolations, expectValidFhirR4, downloadFrom, settle, signInAs } from './fixtures'
import type { Page } from '@playwright/test'

async function signInAsAmelia(page: Page, javaScriptEnabled: boolean) {
  await signInAs(page, 'Amelia Hart (P9)')
  await settle(page, javaScriptEnabled)
  await expect(page.getByRole('heading', { level: 1, name: 'Hello, Amelia' })).toBeVisible()
}

test('the overview shows next appointments, what is new and results not available yet', async ({ page, consoleErrors, javaScriptEnabled }) => {
  await signInAsAmelia(page, javaScriptEnabled)
  await expect(page.getByRole('heading', { name: 'Your next appointments' })).toBeVisible()
  const waiting = page.locator('h2:has-text("Results not available yet") + ul')
  await expect(waiting).toContainText('MRI of right knee')
  await expect(waiting).toContainText('Result received, available on')
  await expect(waiting).toContainText('will release it after they have reviewed it')
  // Nothing of a withheld report reaches the page.
  await expect(page.locator('body')).not.toContainText('meniscal')
  await expectNoAccessibilityViolations(page, javaScriptEnabled)
  await page.getByText('Where this information comes from').click()
  await expect(page.getByText(/up to date as of/).first()).toBeVisible()
})

test('appointments are listed upcoming and past, with cancellations marked', async ({ page, consoleErrors, javaScriptEnabled }) => {
  await signInAsAmelia(page, javaScriptEnabled)
  await page.getByRole('navigation', { name: 'Your record' }).getByRole('link', { name: 'Appointments' }).click()
  await settle(page, javaScriptEnabled)
  await expect(page.getByRole('heading', { level: 1, name: 'Appointments' })).toBeVisible()
  await expect(page.getByRole('heading', { level: 2, name: 'Upcoming' })).toBeVisible()
  await expect(page.getByRole('heading', { level: 2, name: 'Past' })).toBeVisible()
  await expect(page.getByText('Cancelled', { exact: true }).first()).toBeVisible()
  await expect(page.getByText('Reason for cancellation').first()).toBeVisible()
  await expectNoAccessibilityViolations(page, javaScriptEnabled)
})

test('a letter is read on screen and its PDF can be opened', async ({ page, consoleErrors, javaScriptEnabled }) => {
  await signInAsAmelia(page, javaScriptEnabled)
  await page.goto('/record/letters')
  await settle(page, javaScriptEnabled)
  await expect(page.getByRole('heading', { level: 1, name: 'Letters and documents' })).toBeVisible()
  await expectNoAccessibilityViolations(page, javaScriptEnabled)
  await page.getByRole('link', { name: 'Rheumatology clinic letter' }).click()
  await settle(page, javaScriptEnabled)
  await expect(page.getByRole('heading', { level: 1, name: 'Rheumatology clinic letter' })).toBeVisible()
  await expectNoAccessibilityViolations(page, javaScriptEnabled)
  const view = page.getByRole('link', { name: /^View .*PDF/ }).first()
  const href = await view.getAttribute('href')
  const response = await page.request.get(href!)
  expect(response.status()).toBe(200)
  expect(response.headers()['content-type']).toBe('application/pdf')
  const download = await page.request.get(`${href}?download=1`)
  expect(download.headers()['content-disposition']).toMatch(/^attachment;/)
})

test('results are grouped as sent, filtered, and a test has its history', async ({ page, consoleErrors, javaScriptEnabled }) => {
  await signInAsAmelia(page, javaScriptEnabled)
  await page.goto('/record/results')
  await settle(page, javaScriptEnabled)
  await expect(page.getByRole('heading', { level: 1, name: 'Test results' })).toBeVisible()
  await expect(page.getByText('Result received, available on').first()).toBeVisible()
  await expectNoAccessibilityViolations(page, javaScriptEnabled)

  // Filter by type; a mistake in a date is explained and loses nothing.
  await page.getByLabel('Type of test').selectOption('imaging')
  await page.getByLabel('From date').fill('1/1/2020')
  await page.getByRole('button', { name: 'Apply filters' }).click()
  await settle(page, javaScriptEnabled)
  await expect(page.getByRole('link', { name: 'Chest X-ray' })).toBeVisible()
  await expect(page.getByRole('link', { name: 'Full blood count' })).toHaveCount(0)
  await page.getByRole('link', { name: 'Clear filters' }).click()
  await settle(page, javaScriptEnabled)
  await expect(page.getByRole('link', { name: 'Full blood count' }).first()).toBeVisible()

  // A report with its observations, each with value, range and a flag in words.
  await page.getByRole('link', { name: 'Full blood count' }).first().click()
  await settle(page, javaScriptEnabled)
  await expect(page.getByRole('heading', { level: 1, name: 'Full blood count' })).toBeVisible()
  await expect(page.getByRole('columnheader', { name: 'Usual range' })).toBeVisible()
  await expectNoAccessibilityViolations(page, javaScriptEnabled)

  // The history of one test across sources: a chart and the same data as a table.
  await page.getByRole('link', { name: 'Haemoglobin' }).first().click()
  await settle(page, javaScriptEnabled)
  await expect(page.getByRole('heading', { level: 1, name: 'Haemoglobin over time' })).toBeVisible()
  await expect(page.getByRole('img', { name: 'Chart of Haemoglobin over time' })).toBeVisible()
  await expect(page.getByRole('table')).toContainText('Haemoglobin')
  await expectNoAccessibilityViolations(page, javaScriptEnabled)
})

test('a bad date in the filter is explained next to the field and nothing typed is lost', async ({ page, consoleErrors, javaScriptEnabled }) => {
  await signInAsAmelia(page, javaScriptEnabled)
  await page.goto('/record/results?kind=imaging&from=31%2F02%2F2026')
  await settle(page, javaScriptEnabled)
  await expect(page.getByRole('alert')).toContainText('There is a problem with the filters')
  await expect(page.getByText('Enter the start date as day, month and year').first()).toBeVisible()
  await expect(page.getByLabel('Type of test')).toHaveValue('imaging')
  await expect(page.getByLabel('From date')).toHaveValue('31/02/2026')
  await expectNoAccessibilityViolations(page, javaScriptEnabled)
})

test('a patient reaches a test result using only the keyboard', async ({ page, consoleErrors, javaScriptEnabled }) => {
  await signInAsAmelia(page, javaScriptEnabled)
  // Tab from the top of the page to the record's "Test results" link and follow it.
  async function tabTo(name: string) {
    for (let presses = 0; presses < 60; presses++) {
      await page.keyboard.press('Tab')
      const focused = await page.evaluate(() => document.activeElement?.textContent?.trim() ?? '')
      if (focused === name) return
    }
    throw new Error(`could not reach "${name}" with the Tab key`)
  }
  await tabTo('Test results')
  await page.keyboard.press('Enter')
  await settle(page, javaScriptEnabled)
  await expect(page.getByRole('heading', { level: 1, name: 'Test results' })).toBeVisible()
  await tabTo('Full blood count')
  await page.keyboard.press('Enter')
  await settle(page, javaScriptEnabled)
  await expect(page.getByRole('heading', { level: 1, name: 'Full blood count' })).toBeVisible()
})

test('signed-out visitors and partly verified users see nothing clinical', async ({ page, consoleErrors, javaScriptEnabled }) => {
  const response = await page.goto('/record/results')
  expect(response?.status()).toBe(401)
  await expect(page.getByRole('heading', { level: 1, name: 'You need to sign in' })).toBeVisible()
  await expectNoAccessibilityViolations(page, javaScriptEnabled)
  await signInAs(page, 'Priya Shah (P5)')
  const partly = await page.goto('/record/results')
  expect(partly?.status()).toBe(403)
  await expect(page.getByRole('heading', { level: 1, name: 'You need to prove who you are' })).toBeVisible()
})

test('a patient downloads their record as a PDF, a web page and a FHIR R4 bundle', async ({ page, consoleErrors, javaScriptEnabled }) => {
  await signInAsAmelia(page, javaScriptEnabled)
  await page.getByRole('link', { name: 'Download your record' }).click()
  await settle(page, javaScriptEnabled)
  await expect(page.getByRole('heading', { level: 1, name: 'Download your record' })).toBeVisible()
  await expectNoAccessibilityViolations(page, javaScriptEnabled)

  const pdf = await downloadFrom(page, 'A readable copy (PDF)')
  expect(pdf.name).toMatch(/^health-record-\d{4}-\d{2}-\d{2}\.pdf$/)
  expect(pdf.bytes.subarray(0, 5).toString()).toBe('%PDF-')

  const html = await downloadFrom(page, 'A readable copy (web page)')
  const text = html.bytes.toString('utf8')
  expect(text).toContain('Amelia Hart')
  expect(text).toContain('is the controller of its own data')
  expect(text).toContain('(ODS code RXX)')
  expect(text).not.toContain('<script')

  const json = await downloadFrom(page, /FHIR R4, JSON/)
  const bundle = JSON.parse(json.bytes.toString('utf8'))
  expect(bundle.resourceType).toBe('Bundle')
  expect(bundle.type).toBe('collection')
  const kinds = new Set(bundle.entry.map((e: { resource: { resourceType: string } }) => e.resource.resourceType))
  for (const kind of ['Patient', 'Organization', 'Provenance', 'Appointment', 'DocumentReference', 'DiagnosticReport', 'Observation']) {
    expect(kinds, kind).toContain(kind)
  }
  await expectValidFhirR4(bundle)
})
