// The app shell: home page, page frame, information pages, not-found page and health,
// as a person and a load balancer meet them.
import { test, expect, expectNoAccessibilityViolations, settle } from './fixtures'

test('the home page explains the service and lists the organisations sharing records', async ({ page, consoleErrors, javaScriptEnabled }) => {
  const response = await page.goto('/')
  expect(response?.status()).toBe(200)
  await settle(page, javaScriptEnabled)
  await expect(page).toHaveTitle('Your health record')
  await expect(page.getByRole('heading', { level: 1, name: 'Your health record' })).toBeVisible()
  const organisations = page.getByRole('list', { name: 'Organisations sharing records' })
  await expect(organisations.getByRole('listitem')).toHaveCount(3)
  await expect(organisations).toContainText('Northgate University Hospitals NHS Foundation Trust (hospital)')
  await expect(organisations).toContainText('Riverside Medical Practice (GP surgery)')
  await expect(page.getByRole('region', { name: 'Demonstration' })).toContainText('This is a demonstration')
  await expect(page.getByRole('banner')).toBeVisible()
  await expect(page.getByRole('contentinfo')).toBeVisible()
  await expectNoAccessibilityViolations(page, javaScriptEnabled)
})

test('the skip link is the first thing a keyboard reaches and jumps to the content', async ({ page, javaScriptEnabled }) => {
  await page.goto('/')
  await settle(page, javaScriptEnabled)
  await page.keyboard.press('Tab')
  const skip = page.getByRole('link', { name: 'Skip to main content' })
  await expect(skip).toBeFocused()
  await page.keyboard.press('Enter')
  await expect(page).toHaveURL(/#maincontent$/)
})

test('footer links lead to the information pages', async ({ page, consoleErrors, javaScriptEnabled }) => {
  await page.goto('/')
  await settle(page, javaScriptEnabled)
  for (const [link, heading] of [
    ['About this service', 'About this service'],
    ['Accessibility statement', 'Accessibility statement'],
    ['Privacy notice', 'Privacy notice'],
  ]) {
    await page.getByRole('contentinfo').getByRole('link', { name: link }).click()
    await expect(page.getByRole('heading', { level: 1, name: heading })).toBeVisible()
    await expectNoAccessibilityViolations(page, javaScriptEnabled)
  }
  await page.getByRole('link', { name: 'Your health record homepage' }).click()
  await expect(page.getByRole('heading', { level: 1, name: 'Your health record' })).toBeVisible()
})

test('an address that does not exist gets a helpful not-found page and status 404', async ({ page, consoleErrors, javaScriptEnabled }) => {
  const response = await page.goto('/records/does-not-exist')
  expect(response?.status()).toBe(404)
  await expect(page.getByRole('heading', { level: 1, name: 'Page not found' })).toBeVisible()
  await expect(page).toHaveTitle('Page not found - Your health record')
  await expectNoAccessibilityViolations(page, javaScriptEnabled)
  await page.getByRole('link', { name: 'Go to the home page' }).click()
  await expect(page.getByRole('heading', { level: 1, name: 'Your health record' })).toBeVisible()
})

test('the design system styles are served with the page', async ({ page, request }) => {
  await page.goto('/')
  const header = page.getByRole('banner')
  // NHS blue header from nhsuk-frontend's compiled CSS.
  await expect(header).toHaveCSS('background-color', 'rgb(0, 94, 184)')
  const css = await request.get('/pkg/portal.css')
  expect(css.status()).toBe(200)
  expect(await css.text()).toContain('.nhsuk-header')
})

test('health and readiness answer for load balancers', async ({ request }) => {
  expect((await request.get('/health')).status()).toBe(200)
  expect((await request.get('/ready')).status()).toBe(200)
})
