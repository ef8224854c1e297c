#!/usr/bin/env -S node --max-semi-space-size=64
// A larger young generation lets the many short-lived request objects die young instead of
// being copied (measured by npm run bench). `npm install` builds dist/ through `prepare`.
import '../dist/cli.js';
