// Shared test set-up: an accessibility check with axe-core (WCAG 2.2 AA rules), and a
// guard that fails any JavaScript-enabled test whose page logs an error (a hydration
// mismatch shows up that way).
import { test as base, expect, type Locator, type Page } from '@playwright/test'
import AxeBuilder from '@axe-core/playwright'

export const test = base.extend<{ consoleErrors: string[] }>({
  consoleErrors: async ({ page }, use) => {
    const errors: string[] = []
    page.on('console', (message) => {
      if (message.type() !== 'error') return
      // The document's own error status (a 404 page) is what the test checks, not a fault.
      if (message.text().startsWith('Failed to load resource') && message.location().url === page.url()) return
      // Name the resource: "Failed to load resource" alone does not say which one.
      errors.push(`${message.text()} (${message.location().url})`)
    })
    page.on('pageerror', (error) => errors.push(error.message))
    await use(errors)
    // Resources the design system points at outside this machine cannot load here.
    const real = errors.filter((e) => !e.includes('net::ERR_'))
    expect(real, 'errors in the browser console').toEqual([])
  },
})

export { expect }

/// axe-core runs inside the page, so it needs JavaScript: it checks the JavaScript
/// project's pages, whose markup is the same server-rendered HTML the other project gets.
export async function expectNoAccessibilityViolations(page: Page, javaScriptEnabled: boolean) {
  if (!javaScriptEnabled) return
  const results = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'])
    .analyze()
  expect(results.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.length})`)).toEqual([])
}

/// With JavaScript on, wait until the page is hydrated, so that the test exercises the
/// interactive page rather than racing it.
export async function settle(page: Page, javaScriptEnabled: boolean) {
  await page.waitForLoadState('load')
  if (javaScriptEnabled) {
    // `data-hydrated` is set by our own bundle (frontend/src/lib.rs) once it has loaded
    // and run, and by nothing else; the class by the design system's script.
    await page.waitForFunction(
      () =>
        document.documentElement.hasAttribute('data-hydrated') &&
        document.body.classList.contains('nhsuk-frontend-supported'),
    )
  }
}

/// The service desk, on "Find a patient", finds one by NHS number and date of birth
/// (day, month, year) with the reason labelled `reason`.
export async function deskFindsPatient(
  page: Page,
  javaScriptEnabled: boolean,
  nhsNumber: string,
  born: [string, string, string],
  reason: string,
) {
  await page.getByLabel('NHS number').fill(nhsNumber)
  const birthDate = page.getByRole('group', { name: 'Date of birth' })
  await birthDate.getByLabel('Day').fill(born[0])
  await birthDate.getByLabel('Month').fill(born[1])
  await birthDate.getByLabel('Year').fill(born[2])
  await page.getByLabel(reason).check()
  await page.getByRole('button', { name: 'Find patient' }).click()
  await settle(page, javaScriptEnabled)
}

/// Signs in through the built-in NHS login simulator as one of its people.
export async function signInAs(page: Page, person: string) {
  await page.goto('/')
  await page.getByRole('button', { name: 'Continue to NHS login' }).click()
  await expect(page.getByRole('heading', { level: 1, name: 'NHS login (simulated)' })).toBeVisible()
  await page.getByLabel(person).check()
  await page.getByRole('button', { name: 'Continue' }).click()
}

/// Validates a FHIR resource with FHIR.js (the npm `fhir` package and its bundled R4
/// 4.0.1 definitions), an implementation independent of ours: unknown elements, codes
/// outside required value sets, missing required elements and wrong JSON types are all
/// errors.
export async function expectValidFhirR4(resource: unknown) {
  const { Fhir } = await import('fhir')
  const result = new Fhir().validate(resource, { errorOnUnexpected: true })
  const errors = result.messages.filter(
    (m: { severity: string }) => m.severity === 'error' || m.severity === 'fatal',
  )
  expect(errors, 'FHIR R4 validation errors').toEqual([])
  expect(result.valid).toBe(true)
}

/// Clicks a link (within a part of the page, if given) that downloads a file, and returns
/// the file's bytes and suggested name.
export async function downloadFrom(page: Page, name: string | RegExp, within?: Locator) {
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    (within ?? page).getByRole('link', { name }).click(),
  ])
  const path = await download.path()
  const { readFileSync } = await import('node:fs')
  return { bytes: readFileSync(path), name: download.suggestedFilename() }
}
