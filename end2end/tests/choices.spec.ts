// Your choices and the service desk console, with JavaScript on and off: a patient
// leaves the portal and comes back; a patient stops showing one organisation's records
// and they vanish from every page and the list of sources; the desk records a postal
// objection for a child and the parent no longer sees that organisation's records; the
// desk works the held items queue (one pass matches an item, the other sends one
// back) and opens the proxy queue; one desk journey is made by keyboard alone; a patient
// asks for a copy of their data, the desk reviews and sends it, and the patient downloads
// it. axe-core checks each new page.
//
// These journeys change the demo's people (leaving the portal, objections, the desk's
// queues, a review of the items a copy holds), so they run against a portal of their own
// and one at a time, first with JavaScript and then without (playwright.config.ts): a
// journey that reads a record never races one that changes it. The two passes still use
// different people or organisations where a change would otherwise stay for the second.
import { test, expect, deskFindsPatient, expectNoAccessibilityViolations, expectValidFhirR4, downloadFrom, settle, signInAs } from './fixtures'
import type { Browser, Page } from '@playwright/test'

const choicesURL = 'http://127.0.0.1:3102'

async function signIn(page: Page, person: string, javaScriptEnabled: boolean) {
  await signInAs(page, person)
  await settle(page, javaScriptEnabled)
}

async function signInAsDesk(page: Page, javaScriptEnabled: boolean) {
  await page.goto('/staff')
  await page.getByRole('button', { name: 'Sign in as staff' }).click()
  await page.getByLabel('Jordan Okoro').check()
  await page.getByRole('button', { name: 'Continue' }).click()
  await settle(page, javaScriptEnabled)
}

async function otherPerson(browser: Browser, javaScriptEnabled: boolean) {
  const context = await browser.newContext({ javaScriptEnabled, baseURL: choicesURL })
  return { context, page: await context.newPage() }
}

async function open(page: Page, path: string, javaScriptEnabled: boolean) {
  await page.goto(path)
  await settle(page, javaScriptEnabled)
}

const deskNav = (page: Page) => page.getByRole('navigation', { name: 'Service desk' })

for (const withJavaScript of [true, false]) {
  test.describe(withJavaScript ? 'with JavaScript' : 'without JavaScript', () => {
    test.use({ javaScriptEnabled: withJavaScript })

    test('a patient leaves the portal, is told their record is closed, and comes back', async ({ page, consoleErrors, javaScriptEnabled }) => {
      await signIn(page, javaScriptEnabled ? 'Ngozi Okafor (P9)' : 'Daniel Hart (P9)', javaScriptEnabled)
      await open(page, '/account/choices', javaScriptEnabled)
      await expect(page.getByRole('heading', { level: 1, name: 'Your choices' })).toBeVisible()
      await expect(page.getByRole('link', { name: 'Find out about the national data opt-out and set your choice on the NHS website' })).toBeVisible()
      await expectNoAccessibilityViolations(page, javaScriptEnabled)
      await page.getByRole('button', { name: 'Leave the portal' }).click()
      await settle(page, javaScriptEnabled)
      await expect(page.getByRole('heading', { level: 1, name: 'Are you sure you want to leave the portal?' })).toBeVisible()
      await expectNoAccessibilityViolations(page, javaScriptEnabled)
      await page.getByRole('button', { name: 'Yes, leave the portal' }).click()
      await settle(page, javaScriptEnabled)
      await expect(page.getByText(/You left your health record in this portal on/)).toBeVisible()

      await open(page, '/record', javaScriptEnabled)
      await expect(page.getByRole('heading', { level: 1, name: 'You have left your health record' })).toBeVisible()
      await expectNoAccessibilityViolations(page, javaScriptEnabled)
      await page.getByRole('link', { name: 'Come back to your health record' }).click()
      await settle(page, javaScriptEnabled)
      await expect(page.getByRole('heading', { level: 1, name: 'Come back to your health record' })).toBeVisible()
      await expectNoAccessibilityViolations(page, javaScriptEnabled)
      await page.getByRole('button', { name: 'Come back' }).click()
      await settle(page, javaScriptEnabled)
      const history = page.getByRole('table', { name: 'History of choices, newest first' })
      await expect(history).toContainText('Left the portal')
      await expect(history).toContainText('Came back to the portal')
      await expect(history).toContainText('You, online')
      await open(page, '/record', javaScriptEnabled)
      await expect(page.getByRole('heading', { level: 1, name: 'Your record' })).toBeVisible()
    })

    test("a patient stops showing one organisation's records, and they vanish from every page", async ({ page, consoleErrors, javaScriptEnabled }) => {
      const source = javaScriptEnabled
        ? { name: 'Riverside Medical Practice', appointment: 'Appointment with a GP' }
        : { name: 'Northgate University Hospitals NHS Foundation Trust', appointment: 'Rheumatology follow-up' }
      await signIn(page, 'Amelia Hart (P9)', javaScriptEnabled)
      await open(page, '/record/appointments', javaScriptEnabled)
      await expect(page.getByText(source.appointment).first()).toBeVisible()
      await open(page, '/record', javaScriptEnabled)
      await page.getByRole('link', { name: 'Your choices' }).click()
      await settle(page, javaScriptEnabled)
      await page.getByRole('link', { name: `Stop showing records from ${source.name}` }).click()
      await settle(page, javaScriptEnabled)
      await expect(page.getByRole('heading', { level: 1, name: `Stop showing records from ${source.name}?` })).toBeVisible()
      await expectNoAccessibilityViolations(page, javaScriptEnabled)
      await page.getByRole('button', { name: 'Yes, stop showing them' }).click()
      await settle(page, javaScriptEnabled)
      await expect(page.getByRole('link', { name: `Show records again from ${source.name}` })).toBeVisible()
      await expect(page.getByRole('table', { name: 'History of choices, newest first' })).toContainText(`Stopped showing records from ${source.name}`)
      await expectNoAccessibilityViolations(page, javaScriptEnabled)

      // Gone from the list of appointments and from the sources on the overview.
      await open(page, '/record/appointments', javaScriptEnabled)
      await expect(page.getByRole('heading', { level: 1, name: 'Appointments' })).toBeVisible()
      await expect(page.getByText(source.appointment)).toHaveCount(0)
      await open(page, '/record', javaScriptEnabled)
      await expect(page.getByRole('heading', { level: 1, name: 'Hello, Amelia' })).toBeVisible()
      await expect(page.getByText(source.name)).toHaveCount(0)

      // And back again.
      await open(page, '/account/choices', javaScriptEnabled)
      await page.getByRole('link', { name: `Show records again from ${source.name}` }).click()
      await settle(page, javaScriptEnabled)
      await page.getByRole('button', { name: 'Yes, show them again' }).click()
      await settle(page, javaScriptEnabled)
      await open(page, '/record/appointments', javaScriptEnabled)
      await expect(page.getByText(source.appointment).first()).toBeVisible()
    })

    test("the desk records a postal objection for a child, and the parent no longer sees that organisation's records", async ({ page, browser, consoleErrors, javaScriptEnabled }) => {
      const source = javaScriptEnabled
        ? { name: 'Northgate Community Health Services', appointment: 'Speech and language therapy assessment' }
        : { name: 'Northgate University Hospitals NHS Foundation Trust', appointment: "Children's asthma clinic" }
      await signInAsDesk(page, javaScriptEnabled)
      await expect(page.getByRole('heading', { level: 1, name: 'Service desk' })).toBeVisible()
      await expectNoAccessibilityViolations(page, javaScriptEnabled)
      await deskNav(page).getByRole('link', { name: 'Find a patient' }).click()
      await settle(page, javaScriptEnabled)
      await expectNoAccessibilityViolations(page, javaScriptEnabled)
      // Sent with nothing: every problem is listed.
      await page.getByRole('button', { name: 'Find patient' }).click()
      await settle(page, javaScriptEnabled)
      await expect(page.getByRole('heading', { name: 'There is a problem' })).toBeVisible()
      await expect(page.getByRole('link', { name: 'Select why you are looking at this record' })).toBeVisible()
      await expectNoAccessibilityViolations(page, javaScriptEnabled)
      await deskFindsPatient(page, javaScriptEnabled, '999 000 1383', ['21', '3', '2017'], 'A letter or form from the patient')
      await expect(page.getByRole('heading', { level: 1, name: 'Oliver Hart' })).toBeVisible()
      await expect(page.getByText(source.appointment)).toHaveCount(0)
      await expectNoAccessibilityViolations(page, javaScriptEnabled)

      await page.getByLabel('Stop showing records from an organisation').check()
      await page.getByLabel('Organisation (for stopping or showing records)').selectOption({ label: source.name })
      await page.getByLabel('By post').check()
      await page.getByLabel('Evidence reference').fill('LTR-2026-118')
      await page.getByLabel('Reason', { exact: true }).fill("Letter from Oliver's father")
      await page.getByRole('button', { name: 'Record choice' }).click()
      await settle(page, javaScriptEnabled)
      const history = page.getByRole('table', { name: 'History of choices, newest first' })
      await expect(history).toContainText(`Stopped showing records from ${source.name}`)
      await expect(history).toContainText('The service desk, by post (reference LTR-2026-118)')

      // The parent, at their own computer.
      const { context, page: parent } = await otherPerson(browser, javaScriptEnabled)
      await signIn(parent, 'Daniel Hart (P9)', javaScriptEnabled)
      await parent.getByRole('button', { name: "See Oliver Hart's record" }).click()
      await settle(parent, javaScriptEnabled)
      await expect(parent.getByRole('heading', { level: 1, name: "Oliver Hart's record" })).toBeVisible()
      await expect(parent.getByText(source.name)).toHaveCount(0)
      await open(parent, '/record/appointments', javaScriptEnabled)
      await expect(parent.getByRole('heading', { level: 1 })).toBeVisible()
      await expect(parent.getByText(source.appointment)).toHaveCount(0)
      await context.close()
    })

    test('the desk works the held items queue and opens the proxy queue', async ({ page, consoleErrors, javaScriptEnabled }) => {
      await signInAsDesk(page, javaScriptEnabled)
      await deskNav(page).getByRole('link', { name: 'Held feed items' }).click()
      await settle(page, javaScriptEnabled)
      await expect(page.getByRole('heading', { level: 1, name: 'Held feed items' })).toBeVisible()
      await expectNoAccessibilityViolations(page, javaScriptEnabled)
      const sender = javaScriptEnabled ? 'Riverside Medical Practice' : 'Northgate Community Health Services'
      await page.getByLabel('Sender').selectOption({ label: sender })
      await page.getByRole('button', { name: 'Filter' }).click()
      await settle(page, javaScriptEnabled)
      const queue = page.getByRole('table')
      await expect(queue).toContainText('1 waiting')
      await expect(queue).toContainText(sender)
      // Identifiers only: never what the record says.
      await expect(page.getByText('Annual review')).toHaveCount(0)
      await expect(page.getByText('Podiatry')).toHaveCount(0)
      await queue.getByRole('link').first().click()
      await settle(page, javaScriptEnabled)
      await expect(page.getByRole('heading', { level: 1, name: `Appointment from ${sender}` })).toBeVisible()
      await expectNoAccessibilityViolations(page, javaScriptEnabled)
      if (javaScriptEnabled) {
        await expect(page.getByText('9990004128')).toBeVisible()
        await page.getByLabel('Match it to a patient').check()
        await page.getByLabel("Patient's NHS number").fill('999 000 4129')
        const born = page.getByRole('group', { name: "Patient's date of birth" })
        await born.getByLabel('Day').fill('30')
        await born.getByLabel('Month').fill('9')
        await born.getByLabel('Year').fill('1968')
        await page.getByLabel('Reason').fill('NHS number mistyped; confirmed with the practice by phone')
        // The item carries a mistyped number: matching it needs the sender's confirmation.
        await page.getByRole('button', { name: 'Record decision' }).click()
        await settle(page, javaScriptEnabled)
        await expect(page.getByRole('link', { name: /does not carry this NHS number/ })).toBeVisible()
        await expect(page.getByLabel('Reason')).toHaveValue('NHS number mistyped; confirmed with the practice by phone')
        await expectNoAccessibilityViolations(page, javaScriptEnabled)
        await page.getByLabel('The sender confirmed this item is about this patient').check()
      } else {
        await expect(page.getByText('Patient/CHS-404-17')).toBeVisible()
        await page.getByLabel('Send it back to the sender as unmatched').check()
        await page.getByLabel('Reason').fill('No such patient at the community service; sent back')
      }
      await page.getByRole('button', { name: 'Record decision' }).click()
      await settle(page, javaScriptEnabled)
      await expect(page.getByRole('heading', { level: 1, name: 'Held feed items' })).toBeVisible()
      await page.getByLabel('Sender').selectOption({ label: sender })
      await page.getByRole('button', { name: 'Filter' }).click()
      await settle(page, javaScriptEnabled)
      await expect(page.getByText('There are no held items.')).toBeVisible()

      await deskNav(page).getByRole('link', { name: 'Proxy applications' }).click()
      await settle(page, javaScriptEnabled)
      await expect(page.getByRole('heading', { level: 1, name: 'Proxy applications to check' })).toBeVisible()
      await expectNoAccessibilityViolations(page, javaScriptEnabled)
    })

    test('the desk finds a patient using only the keyboard', async ({ page, consoleErrors, javaScriptEnabled }) => {
      async function tabTo(name: string) {
        for (let presses = 0; presses < 80; presses++) {
          await page.keyboard.press('Tab')
          const focused = await page.evaluate(() => {
            const element = document.activeElement as HTMLElement | null
            if (!element) return ''
            const label = element.id ? document.querySelector(`label[for="${element.id}"]`)?.textContent : null
            return (label ?? element.textContent ?? '').trim()
          })
          if (focused.startsWith(name)) return
        }
        throw new Error(`could not reach "${name}" with the Tab key`)
      }
      /// Enter on a link or button that leads to another page, and wait for that page.
      async function follow() {
        const before = page.url()
        await page.keyboard.press('Enter')
        await page.waitForURL((url) => url.toString() !== before)
        await settle(page, javaScriptEnabled)
      }
      await page.goto('/staff')
      await settle(page, javaScriptEnabled)
      await tabTo('Sign in as staff')
      await page.keyboard.press('Enter')
      await page.waitForURL((url) => !url.toString().endsWith('/staff'))
      await page.waitForLoadState('load')
      await tabTo('Jordan Okoro')
      await page.keyboard.press('Space')
      await tabTo('Continue')
      await follow()
      await tabTo('Find a patient')
      await follow()
      await tabTo('NHS number')
      await page.keyboard.type('9990004129')
      await tabTo('Day')
      await page.keyboard.type('30')
      await tabTo('Month')
      await page.keyboard.type('9')
      await tabTo('Year')
      await page.keyboard.type('1968')
      await tabTo('The patient contacted us (phone, email or in person)')
      await page.keyboard.press('Space')
      await tabTo('Find patient')
      await follow()
      await expect(page.getByRole('heading', { level: 1, name: 'Mohammed Iqbal' })).toBeVisible()
      // His objection, recorded from a letter, is there; his records are not.
      await expect(page.getByText('Riverside Medical Practice').first()).toBeVisible()
      await expect(page.getByText('DEMO-LTR-0001')).toBeVisible()
    })

    test('a patient reads who has seen their record after a desk look-up and a proxy read', async ({ page, browser, consoleErrors, javaScriptEnabled }) => {
      const invitee = javaScriptEnabled
        ? { label: 'Ngozi Okafor (P9)', given: 'Ngozi', family: 'Okafor', born: ['14', '7', '1968'] }
        : { label: 'Daniel Hart (P9)', given: 'Daniel', family: 'Hart', born: ['30', '1', '1982'] }
      const name = `${invitee.given} ${invitee.family}`

      // Amelia invites someone to see her letters.
      await signIn(page, 'Amelia Hart (P9)', javaScriptEnabled)
      await open(page, '/account/people/invite', javaScriptEnabled)
      await page.getByLabel('First name').fill(invitee.given)
      await page.getByLabel('Last name').fill(invitee.family)
      const born = page.getByRole('group', { name: 'Date of birth' })
      await born.getByLabel('Day').fill(invitee.born[0])
      await born.getByLabel('Month').fill(invitee.born[1])
      await born.getByLabel('Year').fill(invitee.born[2])
      await page.getByLabel('How are they related to you?').fill('friend')
      await page.getByRole('button', { name: 'Create invitation' }).click()
      await settle(page, javaScriptEnabled)
      const code = (await page.locator('.app-invitation-code').textContent())!.trim()

      // They accept it and read her letters.
      const { context, page: theirs } = await otherPerson(browser, javaScriptEnabled)
      await signIn(theirs, invitee.label, javaScriptEnabled)
      await open(theirs, '/proxy/accept', javaScriptEnabled)
      await theirs.getByLabel('Invitation code').fill(code)
      await theirs.getByRole('button', { name: 'Continue' }).click()
      await settle(theirs, javaScriptEnabled)
      await theirs.getByRole('button', { name: 'Accept invitation' }).click()
      await settle(theirs, javaScriptEnabled)
      await theirs.getByRole('button', { name: "See Amelia Hart's record" }).click()
      await settle(theirs, javaScriptEnabled)
      await open(theirs, '/record/letters', javaScriptEnabled)
      await expect(theirs.getByRole('heading', { level: 1, name: 'Letters and documents' })).toBeVisible()
      await context.close()

      // The desk looks her up after a phone call.
      const desk = await otherPerson(browser, javaScriptEnabled)
      await signInAsDesk(desk.page, javaScriptEnabled)
      await open(desk.page, '/staff/patients', javaScriptEnabled)
      await deskFindsPatient(desk.page, javaScriptEnabled, '999 000 0018', ['12', '6', '1984'], 'The patient contacted us (phone, email or in person)')
      await expect(desk.page.getByRole('heading', { level: 1, name: 'Amelia Hart' })).toBeVisible()
      await desk.context.close()

      // Amelia reads who has seen her record.
      await open(page, '/record', javaScriptEnabled)
      await page.getByRole('link', { name: 'Who has seen your record' }).click()
      await settle(page, javaScriptEnabled)
      await expect(page.getByRole('heading', { level: 1, name: 'Who has seen your record' })).toBeVisible()
      await expectNoAccessibilityViolations(page, javaScriptEnabled)
      const log = page.getByRole('table')
      // Newest first: the desk's look-up is at the top. Her own visits are left out.
      await expect(log).toContainText('Jordan Okoro (service desk)')
      await expect(log).not.toContainText('Signed in')
      // (Other journeys run beside this one on the same record, so each check filters.)
      const show = async (who: string, own: boolean) => {
        await page.getByLabel('Who', { exact: true }).selectOption({ label: who })
        if (own) await page.getByLabel('Include your own visits').check()
        await page.getByRole('button', { name: 'Show' }).click()
        await settle(page, javaScriptEnabled)
      }
      await show('The service desk', false)
      await expect(page.getByRole('table')).toContainText('Reason: The patient contacted us (phone, email or in person)')
      await expect(page.getByRole('table')).not.toContainText(name)
      await show('People acting for you', false)
      await expect(page.getByRole('table')).toContainText(name)
      await expect(page.getByRole('table')).toContainText('Viewed your letters')
      await show('You', true)
      await expect(page.getByRole('table')).toContainText('Viewed')
      await expect(page.getByRole('table')).not.toContainText('(service desk)')
      await expectNoAccessibilityViolations(page, javaScriptEnabled)
    })

    test('a patient asks for a copy of their data and the desk sees it in its queue', async ({ page, browser, consoleErrors, javaScriptEnabled }) => {
      await signIn(page, 'Amelia Hart (P9)', javaScriptEnabled)
      await open(page, '/record', javaScriptEnabled)
      await page.getByRole('link', { name: 'Copies of your data' }).click()
      await settle(page, javaScriptEnabled)
      await expect(page.getByRole('heading', { level: 1, name: 'Copies of your data' })).toBeVisible()
      await expectNoAccessibilityViolations(page, javaScriptEnabled)
      await page.getByRole('button', { name: 'Ask for a copy of your data' }).click()
      await settle(page, javaScriptEnabled)
      await expectNoAccessibilityViolations(page, javaScriptEnabled)
      // Only some parts, none ticked: the problem is explained and the note kept.
      await page.getByLabel('Only some parts').check()
      await page.getByLabel('Anything else we should know (optional)').fill('Please include the knee MRI')
      await page.getByRole('button', { name: 'Send request' }).click()
      await settle(page, javaScriptEnabled)
      await expect(page.getByRole('link', { name: 'Select at least one part of the record' })).toBeVisible()
      await expect(page.getByLabel('Anything else we should know (optional)')).toHaveValue('Please include the knee MRI')
      await expectNoAccessibilityViolations(page, javaScriptEnabled)
      await page.getByLabel('Test results').check()
      await page.getByRole('button', { name: 'Send request' }).click()
      await settle(page, javaScriptEnabled)
      await expect(page.getByRole('heading', { level: 1, name: 'Copies of your data' })).toBeVisible()
      await expect(page.getByText('Please include the knee MRI').first()).toBeVisible()
      await expect(page.getByText('Due by').first()).toBeVisible()

      const desk = await otherPerson(browser, javaScriptEnabled)
      await signInAsDesk(desk.page, javaScriptEnabled)
      await deskNav(desk.page).getByRole('link', { name: 'Requests for copies of data' }).click()
      await settle(desk.page, javaScriptEnabled)
      await expect(desk.page.getByRole('heading', { level: 1, name: 'Requests for copies of data' })).toBeVisible()
      await expectNoAccessibilityViolations(desk.page, javaScriptEnabled)
      await desk.page.getByRole('table').getByRole('link').first().click()
      await settle(desk.page, javaScriptEnabled)
      await expect(desk.page.getByRole('heading', { level: 1, name: 'Request for a copy of data' })).toBeVisible()
      await expect(desk.page.getByRole('button', { name: 'Record' })).toBeVisible()
      await expectNoAccessibilityViolations(desk.page, javaScriptEnabled)
      await desk.context.close()
    })

    test('a patient asks for a copy, the desk reviews and sends it, and the patient downloads it', async ({ page, browser, consoleErrors, javaScriptEnabled }) => {
      await signIn(page, 'Amelia Hart (P9)', javaScriptEnabled)
      await open(page, '/account/requests/new', javaScriptEnabled)
      await page.getByLabel('Everything in the portal about me').check()
      await page.getByRole('button', { name: 'Send request' }).click()
      await settle(page, javaScriptEnabled)
      // The newest request comes first; its reference tells it apart from the requests
      // the other journeys made for Amelia.
      const reference = (await page.locator('.nhsuk-summary-list').first()
        .locator('.nhsuk-summary-list__row', { hasText: 'Reference' })
        .locator('.nhsuk-summary-list__value').textContent())!.trim()
      expect(reference).toMatch(/^[0-9A-F]{8}$/)

      const desk = await otherPerson(browser, javaScriptEnabled)
      await signInAsDesk(desk.page, javaScriptEnabled)
      await open(desk.page, '/staff/requests', javaScriptEnabled)
      await desk.page.getByRole('link', { name: reference }).click()
      await settle(desk.page, javaScriptEnabled)
      await desk.page.getByLabel('Start the clinical review').check()
      await desk.page.getByRole('button', { name: 'Record' }).click()
      await settle(desk.page, javaScriptEnabled)
      await desk.page.getByRole('link', { name: 'Record the clinical review' }).click()
      await settle(desk.page, javaScriptEnabled)
      await expect(desk.page.getByRole('heading', { level: 1, name: 'Clinical review' })).toBeVisible()
      await expectNoAccessibilityViolations(desk.page, javaScriptEnabled)
      // One item withheld as information about another person; the reviewer and reason
      // are required, and nothing chosen is lost when they are missing.
      const first = desk.page.getByRole('combobox').first()
      await first.selectOption('third_party')
      await desk.page.getByRole('button', { name: 'Record the review' }).click()
      await settle(desk.page, javaScriptEnabled)
      await expect(desk.page.getByRole('link', { name: /Enter the clinical reviewer/ })).toBeVisible()
      await expect(desk.page.getByRole('combobox').first()).toHaveValue('third_party')
      await desk.page.getByLabel("The clinical reviewer's name and role").fill('Dr Priya Shah, consultant')
      await desk.page.getByLabel(/Why items are withheld/).fill('Names a relative')
      await desk.page.getByRole('button', { name: 'Record the review' }).click()
      await settle(desk.page, javaScriptEnabled)
      await expect(desk.page.getByText('The review has been recorded')).toBeVisible()
      await desk.page.getByLabel(/Send the answer/).check()
      await desk.page.getByRole('button', { name: 'Record' }).click()
      await settle(desk.page, javaScriptEnabled)
      await expect(desk.page.getByText('Ready').first()).toBeVisible()
      await desk.context.close()

      await open(page, '/account/requests', javaScriptEnabled)
      await expectNoAccessibilityViolations(page, javaScriptEnabled)
      const request = page.getByRole('region', { name: new RegExp(`reference ${reference}`) })
      await expect(request.getByText('Your copy is ready')).toBeVisible()
      const pdf = await downloadFrom(page, 'Your copy (PDF)', request)
      expect(pdf.bytes.subarray(0, 5).toString()).toBe('%PDF-')
      const html = (await downloadFrom(page, 'Your copy (web page)', request)).bytes.toString('utf8')
      expect(html).toContain('Your copy of your data (subject access request)')
      expect(html).toContain(reference)
      expect(html).toContain('After a review by a health professional')
      const json = await downloadFrom(page, 'Your copy for other health apps and systems (FHIR R4, JSON)', request)
      const bundle = JSON.parse(json.bytes.toString('utf8'))
      expect(bundle.type).toBe('collection')
      await expectValidFhirR4(bundle)
    })
  })
}
