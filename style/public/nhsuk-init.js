// Turns on the NHS.UK design system's JavaScript enhancements. Pages work without it.
import { initAll } from '/nhsuk-frontend.min.js'

document.body.classList.add('nhsuk-frontend-supported')
initAll()
