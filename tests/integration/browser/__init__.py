"""Real-browser tests: Debian's Chromium, driven by Playwright, against `coachos serve` on loopback."""
