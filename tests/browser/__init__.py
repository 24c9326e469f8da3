"""Real-browser tests: headless Chromium (Debian's) driven by Playwright against the running services."""
